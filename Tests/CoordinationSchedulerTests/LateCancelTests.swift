import Coordination
import CoordinationScheduler
import CoordinationTestSupport
import Foundation
import MetricsTestKit
import Synchronization
import Testing

/// A cancel request (`coord job cancel`, or a newer fire time replacing the run under overlap
/// `replace`) that lands after the handler has ended, just before its worker writes the end.
@Suite(.serverLoadLimit) struct LateCancelTests {
    /// The attempt failed with a retry left and is being recorded when the cancel lands. The
    /// cancel said it asked the run to stop; the worker, refused by the fence the request
    /// moved, followed the record and wrote the retry over it, and the cancelled run ran again.
    @Test(arguments: SchedulerBackend.all)
    func aCancelLandingAsAFailureIsRecordedIsNotLostToTheRetry(backend: SchedulerBackend) async throws {
        let cluster = try TestCluster(backend)
        defer { Task { await cluster.shutdown() } }
        let client = try await cluster.client()
        let attempts = Shared<[Int]>([])
        let cancelled = Shared<Scheduler.Cancellation?>(nil)
        let failing: JobHandler = { context in
            attempts.withLock { $0.append(context.attempt) }
            throw RunFailure("no luck")
        }
        let layout = cluster.layout
        try await cluster.startWorker("w", handlers: ["fail": failing]) { base in
            InterposedTransaction(base, .before, when: FaultyTransactionStore.releasesClaim(in: layout)) {
                let done = try await client.cancel("job")
                cancelled.withLock { $0 = done }
            }
        }
        try await client.submit(
            JobSpec(id: "job", handler: "fail", retry: RetryPolicy(maxRetries: 1, backoffBase: .milliseconds(10))))
        _ = try await cluster.waitForRuns(of: "job", "the run to end") { $0.isEmpty }
        #expect(cancelled.value?.askedToStop.count == 1, "the run was running when cancelled")
        #expect(attempts.value == [1], "the cancelled run was not retried")
        let history = try await client.history(of: "job")
        #expect(history.map(\.outcome) == [.failed])
        #expect(history.first?.message?.contains("cancelled by request") == true, "\(history.first?.message ?? "")")
    }

    /// The worker is shutting down and hands the run back when the cancel lands: the run ends,
    /// cancelled, rather than waiting, pending, for another worker to run it after all. Its
    /// metrics count it `cancelled` too: they counted it `handedBack`, an outcome the history
    /// never shows for it.
    @Test(arguments: SchedulerBackend.all)
    func aCancelLandingAsARunIsHandedBackEndsTheRun(backend: SchedulerBackend) async throws {
        let cluster = try TestCluster(backend)
        defer { Task { await cluster.shutdown() } }
        let client = try await cluster.client()
        let metrics = TestMetrics()
        let started = Signal()
        let waits: JobHandler = { _ in
            started.fire()
            try? await Task.sleep(for: .seconds(3600))
            return RunOutput()
        }
        let layout = cluster.layout
        try await cluster.startWorker("w", gracePeriod: .zero, handlers: ["wait": waits], metricsFactory: metrics) { base in
            InterposedTransaction(base, .before, when: FaultyTransactionStore.releasesClaim(in: layout)) {
                _ = try await client.cancel("job")
            }
        }
        try await client.submit(JobSpec(id: "job", handler: "wait"))
        try await withDeadline("the run to start") { await started.wait() }
        // Stopped, the worker has settled its run and counted it.
        try await cluster.stopWorker("w")
        #expect(try await client.activeRuns(of: "job").isEmpty, "the cancelled run does not wait for another worker")
        let history = try await client.history(of: "job")
        #expect(history.last?.outcome == .cancelled, "\(history.map(\.outcome))")
        #expect(history.last?.message == "cancelled by request")
        #expect(history.last?.worker == "w" && history.last?.startedAt != nil, "the entry names the attempt")
        let counted = { (outcome: String) in SchedulerMetricsTests.count(metrics, SchedulerMetricsTests.finished, "w", ("outcome", outcome)) }
        #expect(counted("cancelled") == 1 && counted("handedBack") == 0, "counted as the history records it")
        #expect(SchedulerMetricsTests.count(metrics, SchedulerMetricsTests.finished, "w") == 1)
    }

    /// The worker is shutting down, and its handler is reporting progress, when the cancel
    /// lands: the report's write is applied, its reply lost, and the read that resolves it finds
    /// the cancel request on the record. Following that record, the worker's fence moved past the
    /// request, so the hand-back written next was not refused (the way a late cancel is noticed)
    /// and the cancelled run waited, pending, for another worker to run it after all.
    @Test(arguments: SchedulerBackend.all)
    func aCancelReadBackAfterAProgressReplyWasLostEndsTheRunHandedBack(backend: SchedulerBackend) async throws {
        let cluster = try TestCluster(backend)
        defer { Task { await cluster.shutdown() } }
        let client = try await cluster.client()
        let started = Signal()
        let reports: JobHandler = { context in
            started.fire()
            try? await context.progress("half way")
            return RunOutput()
        }
        let layout = cluster.layout
        try await cluster.startWorker("w", gracePeriod: .zero, handlers: ["report": reports]) { base in
            InterposedTransaction(base, .afterApplyingThenLosingTheReply, when: FaultyTransactionStore.reportsProgress(in: layout)) {
                // The report waits for the shutdown's stop (which cancels the handler), so that
                // the attempt is handed back; the cancel, in a task of its own, is not cancelled.
                await untilCancelled()
                _ = try await Task { try await client.cancel("job") }.value
            }
        }
        try await client.submit(JobSpec(id: "job", handler: "report"))
        try await withDeadline("the run to start") { await started.wait() }
        try await cluster.stopWorker("w")
        #expect(try await client.activeRuns(of: "job").isEmpty, "the cancelled run does not wait for another worker")
        let history = try await client.history(of: "job")
        #expect(history.map(\.outcome) == [.cancelled])
        #expect(history.last?.message == "cancelled by request")
        #expect(history.last?.worker == "w" && history.last?.startedAt != nil, "the entry names the attempt")
    }

    /// As above, with the attempt timed out (a retry left) instead of handed back: the retry
    /// was written over the cancel request, and the cancelled run ran again.
    @Test(arguments: SchedulerBackend.all)
    func aCancelReadBackAfterAProgressReplyWasLostIsNotLostToTheRetry(backend: SchedulerBackend) async throws {
        let cluster = try TestCluster(backend)
        defer { Task { await cluster.shutdown() } }
        let client = try await cluster.client()
        let attempts = Shared<[Int]>([])
        let reports: JobHandler = { context in
            attempts.withLock { $0.append(context.attempt) }
            try? await context.progress("half way")
            return RunOutput()
        }
        let layout = cluster.layout
        try await cluster.startWorker("w", handlers: ["report": reports]) { base in
            InterposedTransaction(base, .afterApplyingThenLosingTheReply, when: FaultyTransactionStore.reportsProgress(in: layout)) {
                // The report waits for the time-out (which cancels the handler), so that the
                // attempt's end is a retry; the cancel, in a task of its own, is not cancelled.
                await untilCancelled()
                _ = try await Task { try await client.cancel("job") }.value
            }
        }
        try await client.submit(
            JobSpec(
                id: "job", handler: "report", timeout: .seconds(1), retry: RetryPolicy(maxRetries: 1, backoffBase: .milliseconds(10))))
        _ = try await cluster.waitForRuns(of: "job", "the run to end") { $0.isEmpty }
        let history = try await client.history(of: "job")
        #expect(history.map(\.outcome) == [.timedOut])
        #expect(history.first?.message?.hasPrefix("not retried (cancelled by request)") == true, "\(history.first?.message ?? "")")
        #expect(attempts.value == [1], "the cancelled run was not retried")
    }
}
