import Foundation
import Subprocess
import SystemPackage

/// Runs a command given on coord's command line as a child process sharing coord's standard
/// streams. Cancelling the calling task stops the child: SIGTERM, then SIGKILL after `grace`.
enum ChildCommand {
    /// Runs `argv` and returns its exit status (128 + the signal number if a signal ended it).
    static func run(_ argv: [String], environment: [String: String] = [:], grace: Duration = .seconds(5)) async throws -> Int32 {
        guard let program = argv.first else {
            throw CommandLineProblem("no command given after --")
        }
        var options = PlatformOptions()
        options.teardownSequence = [.gracefulShutDown(allowedDurationToNextStep: grace)]
        let executable: Executable = program.contains("/") ? .path(FilePath(program)) : .name(program)
        var updates: [Environment.Key: String?] = [:]
        for (name, value) in environment { updates[Environment.Key(stringLiteral: name)] = value }
        let result = try await Subprocess.run(
            executable,
            arguments: Arguments(Array(argv.dropFirst())),
            environment: .inherit.updating(updates),
            platformOptions: options,
            input: .fileDescriptor(.standardInput, closeAfterSpawningProcess: false),
            output: .fileDescriptor(.standardOutput, closeAfterSpawningProcess: false),
            error: .fileDescriptor(.standardError, closeAfterSpawningProcess: false))
        switch result.terminationStatus {
        case .exited(let code): return Int32(code)
        case .signaled(let signal): return 128 + Int32(signal)
        }
    }
}

/// A mistake in how coord was called that argument-parser cannot see (printed as one line, status 64).
struct CommandLineProblem: Error, CustomStringConvertible {
    let description: String
    init(_ description: String) { self.description = description }
}
