import Coordination
import CoordinationScheduler
import CoordinationTestSupport
import Foundation
import Testing

/// A pending run is cancelled while a worker claims it, fails it and puts it back, pending at its
/// next attempt: between the canceller's read of the run and its delete.
@Suite(.serverLoadLimit) struct RetriedRunCancelTests {
    /// The delete compares the version the canceller read, so it is refused and the run read
    /// again: the `cancelled` entry names the attempt that was cancelled (2), not the one that had
    /// already failed meanwhile (whose own entry says so). A delete that compared nothing removed
    /// the run all the same, and recorded attempt 1 twice.
    @Test(arguments: SchedulerBackend.all)
    func aRunRetriedAsItIsCancelledIsRecordedAtItsNewAttempt(backend: SchedulerBackend) async throws {
        let cluster = try TestCluster(backend)
        defer { Task { await cluster.shutdown() } }
        let layout = cluster.layout
        let attempts = Shared<[Int]>([])
        let failing: JobHandler = { context in
            attempts.withLock { $0.append(context.attempt) }
            throw RunFailure("no luck")
        }
        let observer = try await cluster.client()
        // The retry waits long enough not to be claimed again before the cancel is done.
        try await observer.submit(
            JobSpec(id: "job", handler: "fail", retry: RetryPolicy(maxRetries: 1, backoffBase: .seconds(600), backoffCap: .seconds(600))))
        let pending = try await cluster.waitForRuns(of: "job", "the first attempt, pending") { $0.count == 1 }
        #expect(pending.first?.attempt == 1 && pending.first?.status == .pending)
        let interposed = InterposedTransaction(try await cluster.open(), .before, when: Self.deletesARun(in: layout)) {
            try await cluster.startWorker("w", handlers: ["fail": failing])
            _ = try await cluster.waitForRuns(of: "job", "the retry, pending") { $0.first?.attempt == 2 && $0.first?.status == .pending }
            try await cluster.stopWorker("w")
        }
        let canceller = Scheduler(store: interposed, layout: layout, clock: cluster.clock)
        let cancelled = try await canceller.cancel("job")
        #expect(cancelled.removed == pending.map(\.run) && cancelled.askedToStop.isEmpty)
        #expect(attempts.value == [1], "the worker ran the first attempt as the cancel went")
        let history = try await observer.history(of: "job")
        #expect(history.map(\.outcome) == [.failed, .cancelled])
        #expect(history.map(\.attempt) == [1, 2], "the cancelled attempt is the retry")
        #expect(try await observer.activeRuns(of: "job").isEmpty)
    }

    /// A transaction that deletes a run record (the canceller's).
    static func deletesARun(in layout: SchedulerLayout) -> @Sendable ([Coordination.Operation]) -> Bool {
        { operations in operations.contains { if case .delete(let key, _) = $0 { layout.isRun(key) } else { false } } }
    }
}
