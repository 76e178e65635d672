@testable import CoordinationCLI
@testable import CoordinationScheduler
import CoordinationTestSupport
import Foundation
import Testing

/// The shell handler on its own, with real processes: what it reports of a command's end, and
/// how a stopped command ends.
@Suite("the shell handler runs commands and stops their whole process group")
struct ShellJobHandlerTests {
    static func context(_ command: String) -> RunContext {
        RunContext(
            job: "j", run: "r", item: 0, itemCount: 1, itemParameter: nil, payload: Data(command.utf8), attempt: 1,
            scheduledAt: Date(), fencingToken: 1, worker: "w", deadline: nil, reportProgress: { _ in })
    }

    /// A command's own end, by status or signal, is the attempt's.
    @Test(
        "a command's own exit status or signal is the attempt's",
        arguments: [
            ("echo out; exit 3", "command exited with status 3"),
            ("kill -TERM $$", "command was killed by signal 15"),
            ("kill -KILL $$", "command was killed by signal 9"),
        ])
    func exitIsPassedOn(command: String, message: String) async throws {
        let failure = await #expect(throws: RunFailure.self) { try await ShellJobHandler.run(Self.context(command), grace: .seconds(3)) }
        #expect(failure?.message == message)
        #expect(failure?.stdoutTail == (command.hasPrefix("echo") ? "out\n" : nil))
        // Only what the command wrote: not the supervising shell's report of the signal.
        #expect(failure?.stderrTail == nil)
        let output = try await ShellJobHandler.run(Self.context("echo fine"), grace: .seconds(3))
        #expect(output == RunOutput(stdoutTail: "fine\n"))
    }
}
