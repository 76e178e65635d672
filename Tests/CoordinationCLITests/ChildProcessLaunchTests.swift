import CoordinationLocalServers
import Dispatch
import Foundation
import Testing

/// Starting a child process must not hold a thread of Swift's cooperative pool: `Process.run()`
/// waits for the child's exec, which on a loaded two-core machine took up to a second, and the
/// pool there has two threads.
@Suite("starting child processes leaves the cooperative pool free")
struct ChildProcessLaunchTests {
    /// A `/bin/true` whose `run()` first waits, holding its thread, until the test lets it go
    /// or `limit` has passed: a spawn slow for as long as the test likes.
    final class HeldProcess: Process, @unchecked Sendable {
        private let entered: AsyncStream<Void>.Continuation
        private let gate = DispatchSemaphore(value: 0)
        private let limit: Duration
        /// Set before `run()` returns: whether the wait ran out instead of being let go.
        private(set) nonisolated(unsafe) var waitRanOut = false

        init(entered: AsyncStream<Void>.Continuation, limit: Duration) {
            self.entered = entered
            self.limit = limit
            super.init()
            executableURL = URL(fileURLWithPath: "/bin/true")
            standardInput = FileHandle.nullDevice
            standardOutput = FileHandle.nullDevice
            standardError = FileHandle.nullDevice
        }

        func letGo() { gate.signal() }

        override func run() throws {
            entered.yield()
            let seconds = Double(limit.components.seconds)
            waitRanOut = gate.wait(timeout: .now() + seconds) == .timedOut
            try super.run()
        }
    }

    @Test("more held spawns at once than the pool has threads leave this task free to let them go")
    func heldSpawnsLeaveThePoolFree() async throws {
        let (entries, entered) = AsyncStream<Void>.makeStream()
        // One more than the pool's threads: started on the pool, they would hold all of it, and
        // this task could run only once their waits ran out. Long, so that a busy run's slow
        // scheduling is not taken for a held pool.
        let count = ProcessInfo.processInfo.activeProcessorCount + 1
        let processes = (0..<count).map { _ in HeldProcess(entered: entered, limit: .seconds(60)) }
        try await withThrowingTaskGroup(of: Void.self) { group in
            for process in processes {
                group.addTask { try await ChildProcessLaunch.run(process) }
            }
            var seen = 0
            for await _ in entries {
                seen += 1
                if seen == count { break }
            }
            for process in processes { process.letGo() }
            try await group.waitForAll()
        }
        #expect(processes.filter(\.waitRanOut).isEmpty, "this task ran only once the held spawns gave up: they held the pool")
        for process in processes {
            let exit = await ChildProcessWait.exit(of: process)
            #expect(exit.status == 0, "the spawn went ahead once let go")
        }
    }
}
