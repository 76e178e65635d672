import Coordination
import CoordinationLocalServers
import Foundation
import Testing

/// Waiting for a child process must not hold a thread of Swift's cooperative pool: with two
/// cores the pool has two threads, and a full test run saw tests notice events half a minute
/// late while other tests' helpers waited for their children on it.
@Suite("waits for child processes leave the cooperative pool free")
struct ChildProcessWaitTests {
    /// A shell that ignores SIGTERM, printing a line each time it gets one: its termination
    /// waits out the whole grace.
    final class StubbornChild: Sendable {
        let process: Process
        private let output: Pipe

        init() async throws {
            let process = Process()
            process.executableURL = URL(fileURLWithPath: "/bin/sh")
            process.arguments = ["-c", "trap 'echo term' TERM; echo ready; while :; do sleep 0.05; done"]
            process.environment = ProcessInfo.processInfo.environment
            let output = Pipe()
            process.standardInput = FileHandle.nullDevice
            process.standardOutput = output
            try await ChildProcessLaunch.run(process)
            self.process = process
            self.output = output
        }

        /// Returns once the child has said `word`, or has ended without saying it.
        func said(_ word: String) async -> Bool {
            let handle = output.fileHandleForReading
            let said = await OwnThread.run { handle.availableData }
            return String(decoding: said, as: UTF8.self).contains(word)
        }

        func kill() { Foundation.kill(process.processIdentifier, SIGKILL) }
    }

    @Test("three children terminated at once, each with a long grace, leave this task free to run while they still run")
    func terminationsLeaveThePoolFree() async throws {
        var children: [StubbornChild] = []
        for _ in 0..<3 { children.append(try await StubbornChild()) }
        defer { for child in children { child.kill() } }
        // A SIGTERM before the shell set its trap would end it at once.
        for child in children {
            try #require(await child.said("ready"), "the child set its trap")
        }
        // The grace bounds the test: once it is over the children are killed, and a wait that
        // held the pool lets this task run only then, when they are gone. Long, so that a busy
        // run's slow scheduling is not taken for a held pool.
        let grace = Duration.seconds(60)
        await withTaskGroup(of: Void.self) { group in
            for child in children {
                group.addTask { await ChildProcessWait.terminate(child.process, grace: grace) }
            }
            var told = 0
            for child in children {
                if await child.said("term") { told += 1 }
            }
            #expect(told == 3, "every child got its SIGTERM")
            let stillRunning = children.filter { $0.process.isRunning }.count
            #expect(stillRunning == 3, "this task ran only once a termination had given up waiting: the waits held the pool")
            for child in children { child.kill() }
            await group.waitForAll()
        }
        #expect(children.allSatisfy { !$0.process.isRunning })
    }
}
