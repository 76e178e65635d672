import Coordination
import CoordinationScheduler
import Foundation
import CoordinationTestSupport
import Testing

@Suite(.serverLoadLimit) struct RetryAndTimeoutTests {
    @Test(arguments: SchedulerBackend.all)
    func failedAttemptsAreRetriedWithBackOff(backend: SchedulerBackend) async throws {
        let cluster = try TestCluster(backend)
        defer { Task { await cluster.shutdown() } }
        let flaky: JobHandler = { context in
            if context.attempt < 3 { throw RunFailure("attempt \(context.attempt) failed", stderrTail: "boom") }
            return RunOutput(message: "third time lucky")
        }
        try await cluster.startWorker("w", handlers: ["flaky": flaky])
        try await cluster.startWorker("v", handlers: ["flaky": flaky])
        let client = try await cluster.client()
        let retry = RetryPolicy(maxRetries: 3, backoffBase: .milliseconds(50), backoffCap: .milliseconds(80))
        try await client.submit(JobSpec(id: "flaky", handler: "flaky", retry: retry))
        let history = try await cluster.waitForHistory("the third attempt") { $0.contains { $0.outcome == .succeeded } }
        #expect(history.map(\.outcome) == [.failed, .failed, .succeeded])
        #expect(history.map(\.attempt) == [1, 2, 3])
        #expect(history.first?.stderrTail == "boom")
        // Each retry waited at least its back-off (50 ms, then 80 ms capped) after the failure.
        let starts = history.compactMap(\.startedAt)
        let ends = history.map(\.finishedAt)
        #expect(starts[1].timeIntervalSince(ends[0]) >= 0.049)
        #expect(starts[2].timeIntervalSince(ends[1]) >= 0.079)
        #expect(retry.backoff(beforeAttempt: 2) == .milliseconds(50))
        #expect(retry.backoff(beforeAttempt: 4) == .milliseconds(80))
    }

    @Test(arguments: SchedulerBackend.all)
    func retriesRunOutIntoAFinalFailure(backend: SchedulerBackend) async throws {
        let cluster = try TestCluster(backend)
        defer { Task { await cluster.shutdown() } }
        try await cluster.startWorker("w", handlers: ["bad": { _ in throw RunFailure("always") }])
        let client = try await cluster.client()
        try await client.submit(JobSpec(id: "bad", handler: "bad", retry: RetryPolicy(maxRetries: 1, backoffBase: .milliseconds(10))))
        let history = try await cluster.waitForHistory("two failures") { $0.count >= 2 }
        #expect(history.map(\.outcome) == [.failed, .failed])
        _ = try await cluster.waitForRuns(of: "bad", "the run to be gone") { $0.isEmpty }
    }

    @Test(arguments: SchedulerBackend.all)
    func anAttemptThatTimesOutIsCancelledAndRetried(backend: SchedulerBackend) async throws {
        let cluster = try TestCluster(backend)
        defer { Task { await cluster.shutdown() } }
        let cancelled = Shared(false)
        let slowOnce: JobHandler = { context in
            if context.attempt == 1 {
                #expect(context.deadline != nil)
                do { try await Task.sleep(for: .seconds(3600)) } catch { cancelled.withLock { $0 = true } }
            }
            return RunOutput(message: "fast")
        }
        try await cluster.startWorker("w", handlers: ["slow": slowOnce])
        let client = try await cluster.client()
        try await client.submit(
            JobSpec(
                id: "slow", handler: "slow", timeout: .milliseconds(100),
                retry: RetryPolicy(maxRetries: 1, backoffBase: .milliseconds(10))))
        let history = try await cluster.waitForHistory("timeout then success") { $0.contains { $0.outcome == .succeeded } }
        #expect(history.map(\.outcome) == [.timedOut, .succeeded])
        #expect(cancelled.value, "the timed-out handler was cancelled")
    }
}
