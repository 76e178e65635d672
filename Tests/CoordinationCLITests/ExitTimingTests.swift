import Foundation
import Testing

/// The process helpers time a child's exit as it happened, not as late as the test's task
/// resumed to look: in a full run that task resumes late by however busy the pool's two threads
/// are (seconds), and a bound on coord's promptness then failed for the test's own lag.
@Suite("process helpers time an exit when it happened, not when the test looked")
struct ExitTimingTests {
    /// How late the test's task resumes here, as a busy run's would.
    static let lag = Duration.milliseconds(1500)

    @Test("LineProcess: an exit right after a line is timed right after it, however late the test asks")
    func lineProcessExit() async throws {
        let process = try await LineProcess("/bin/sh", ["-c", "echo bye"])
        defer { process.stop() }
        let line = try await process.nextTimedLine(within: .seconds(20))
        #expect(line.text == "bye")
        try await Task.sleep(for: Self.lag)  // the test's task resuming late, not a wait for an event
        let exited = try await process.exit(within: .seconds(20))
        let after = line.arrived.duration(to: exited.at)
        #expect(exited.status == 0)
        #expect(after < Self.lag / 2, "the exit was timed \(after) after the line: the test's lag, not the process's")
    }

    @Test("LineProcess: the wait for an exit ends at its deadline when the process does not exit")
    func lineProcessExitDeadline() async throws {
        let process = try await LineProcess("/bin/sh", ["-c", "echo running; exec sleep 600"])
        defer { process.stop() }
        #expect(try await process.nextLine(within: .seconds(20)) == "running")
        let waited = ContinuousClock.now
        await #expect(throws: (any Error).self) { _ = try await process.exit(within: .milliseconds(300)) }
        #expect(waited.duration(to: .now) < .seconds(10), "the deadline ended the wait")
    }
}
