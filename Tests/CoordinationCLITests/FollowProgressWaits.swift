import Coordination
import CoordinationMigration
import CoordinationTestSupport

/// Waits on a follow's progress reports, each wait bounded: a follower that loses an event then
/// fails the test naming what it waited for, instead of hanging the run. One consumer at a time:
/// each wait iterates `reports` anew where the last one stopped.
enum FollowProgressWaits {
    /// Until the follow's first copy has ended and it follows the source's changes.
    static func firstCopyEnded(_ reports: AsyncStream<MigrationProgress>) async throws {
        try await withDeadline("the follow's first copy to end", limit: .seconds(60)) {
            for await progress in reports where progress.phase == .following && progress.phaseEnded { return }
            throw CoordinationError(.timeout, "the follow ended before its first copy did")
        }
    }

    /// Until a report of the following phase after which `caughtUp` holds (the target shows the
    /// changes awaited, named by `what`).
    static func followed(
        _ reports: AsyncStream<MigrationProgress>, until what: String, _ caughtUp: @escaping @Sendable () async throws -> Bool
    ) async throws {
        try await withDeadline(what, limit: .seconds(60)) {
            for await progress in reports where progress.phase == .following {
                if try await caughtUp() { return }
            }
            throw CoordinationError(.timeout, "the follow ended before \(what)")
        }
    }
}
