import Coordination
import CoordinationRecipes
import Foundation

/// What `coord lock` and `coord elect` share: run a child command while something is held, stop
/// it when the hold is lost or coord is signalled, and pass its exit status through.
enum HeldCommand {
    /// Runs `argv` inside `hold`, which acquires, calls `runChild` with the environment to add
    /// (under the session guard, which cancels it when the hold is lost), and releases. Returns the
    /// child's status; a SIGINT or SIGTERM to coord stops the child, releases, and gives 130.
    static func run(
        _ argv: [String], holding what: String,
        hold: @escaping @Sendable (_ runChild: @escaping @Sendable ([String: String]) async throws -> Int32) async throws -> Int32
    ) async throws -> Int32 {
        try requireCommand(argv)
        let signals = SignalListener([SIGINT, SIGTERM])
        defer { signals.stop() }
        return try await withThrowingTaskGroup(of: Int32?.self) { group in
            group.addTask {
                do {
                    return try await hold { environment in try await ChildCommand.run(argv, environment: environment) }
                } catch RecipeError.sessionLost(let why) {
                    throw RecipeError.sessionLost("\(what) was lost (\(why)); the command was stopped")
                }
            }
            group.addTask {
                await signals.wait()
                return nil
            }
            defer { group.cancelAll() }
            if let status = try await group.next() ?? nil { return status }
            // Signalled: cancelling the hold stops the child and releases what was held.
            group.cancelAll()
            _ = try? await group.next()
            return 130
        }
    }

    /// A command after `--` is required: checked with the command line's other values, before any
    /// store is opened, so a missing one is a usage error (64) whatever the store's state.
    static func requireCommand(_ argv: [String]) throws {
        guard argv.isEmpty else { return }
        throw CommandLineProblem("give the command to run after --, for example: -- ./deploy.sh")
    }

    /// Parses a duration option (`30s`, `500ms`, `2m`), naming the option when it is malformed (a usage error).
    static func duration(_ text: String?, option: String) throws -> Duration? {
        guard let text else { return nil }
        guard let duration = DurationText.parse(text), duration > .zero else {
            throw CommandLineProblem("\(option) \(text) is not a positive duration; write it like 500ms, 30s or 2m")
        }
        return duration
    }

    /// A name given on the command line as a key: an absolute key as it is, a plain name under `folder`.
    static func key(_ name: String, under folder: String) throws -> Key {
        if name.hasPrefix("/") { return try Key(name) }
        return try Key(folder).child(name)
    }
}
