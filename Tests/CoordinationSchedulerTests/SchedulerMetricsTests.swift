import Coordination
import CoordinationScheduler
import CoordinationTestSupport
import Foundation
import MetricsTestKit
import Testing

/// The workers' metrics, through a `TestMetrics` factory given to each worker: no global
/// bootstrap, so that tests running in parallel each see their own values.
@Suite(.serverLoadLimit) struct SchedulerMetricsTests {
    static let started = "coordination_scheduler_runs_started_total"
    static let finished = "coordination_scheduler_runs_finished_total"
    static let runDuration = "coordination_scheduler_run_duration_seconds"
    static let claims = "coordination_scheduler_claims_total"
    static let claimDuration = "coordination_scheduler_claim_duration_seconds"
    static let claimDelay = "coordination_scheduler_claim_delay_seconds"
    static let takeovers = "coordination_scheduler_takeovers_total"
    static let held = "coordination_scheduler_runs_held"
    static let sessionEvents = "coordination_scheduler_session_events_total"
    static let leader = "coordination_scheduler_leader"
    static let skipped = "coordination_scheduler_fire_times_skipped_total"

    /// The counter's total for the worker (and the extra dimension, when given).
    static func count(_ metrics: TestMetrics, _ label: String, _ worker: String, _ extra: (String, String)? = nil) -> Int64 {
        metrics.counterTotal(label: label, dimensions: [("worker", worker)] + (extra.map { [$0] } ?? []))
    }

    /// Waits until `done` holds: a run's metrics follow the write that ends it, which is what
    /// the tests wait for.
    static func eventually(_ what: String, _ done: @escaping @Sendable () -> Bool) async throws {
        try await withDeadline(what) {
            while !done() { try await Task.sleep(for: .milliseconds(10)) }
        }
    }

    @Test(arguments: SchedulerBackend.all)
    func jobsThatSucceedCountOneStartOneSuccessAndOneClaimEach(backend: SchedulerBackend) async throws {
        let cluster = try TestCluster(backend)
        defer { Task { await cluster.shutdown() } }
        let metrics = TestMetrics()
        try await cluster.startWorker("w", handlers: ["ok": { _ in RunOutput() }], metricsFactory: metrics)
        let client = try await cluster.client()
        let jobs = 5
        for index in 0..<jobs { try await client.submit(JobSpec(id: "job\(index)", handler: "ok")) }
        _ = try await cluster.waitForHistory("every job to succeed") { $0.count { $0.outcome == .succeeded } == jobs }
        try await Self.eventually("the runs to be released") { try! metrics.expectMeter(Self.held, [("worker", "w")]).lastValue == 0 }

        #expect(Self.count(metrics, Self.started, "w") == Int64(jobs))
        #expect(Self.count(metrics, Self.finished, "w", ("outcome", "succeeded")) == Int64(jobs))
        #expect(Self.count(metrics, Self.finished, "w") == Int64(jobs), "no other outcome")
        #expect(Self.count(metrics, Self.claims, "w", ("result", "won")) == Int64(jobs))
        #expect(Self.count(metrics, Self.claims, "w", ("result", "error")) == 0)
        #expect(Self.count(metrics, Self.takeovers, "w") == 0)
        let durations = try metrics.expectTimer(Self.runDuration, [("worker", "w"), ("outcome", "succeeded")]).values
        #expect(durations.count == jobs && durations.allSatisfy { $0 >= 0 })
        let delays = try metrics.expectTimer(Self.claimDelay, [("worker", "w")]).values
        #expect(delays.count == jobs && delays.allSatisfy { $0 >= 0 })
        // Every decided claim is timed (lost ones too, should a lagging view try a run again).
        #expect(try metrics.expectTimer(Self.claimDuration, [("worker", "w")]).values.count >= jobs)
        // The only worker leads.
        try await Self.eventually("the worker to lead") { try! metrics.expectMeter(Self.leader, [("worker", "w")]).lastValue == 1 }
        // No metric names a job.
        #expect(!metrics.counters.contains { $0.dimensions.contains { $0.0 == "job" } })
    }

    @Test(arguments: SchedulerBackend.all)
    func everyFailedOrTimedOutAttemptIsCounted(backend: SchedulerBackend) async throws {
        let cluster = try TestCluster(backend)
        defer { Task { await cluster.shutdown() } }
        let metrics = TestMetrics()
        let handlers: [String: JobHandler] = [
            "bad": { _ in throw RunFailure("always") },
            "slow": { _ in
                try await Task.sleep(for: .seconds(3600))
                return RunOutput()
            },
        ]
        try await cluster.startWorker("w", handlers: handlers, metricsFactory: metrics)
        let client = try await cluster.client()
        try await client.submit(JobSpec(id: "bad", handler: "bad", retry: RetryPolicy(maxRetries: 2, backoffBase: .milliseconds(10))))
        try await client.submit(JobSpec(id: "slow", handler: "slow", timeout: .milliseconds(50)))
        _ = try await cluster.waitForHistory("three failures and a timeout") { entries in
            entries.count { $0.outcome == .failed } == 3 && entries.contains { $0.outcome == .timedOut }
        }
        try await Self.eventually("the runs to be released") { try! metrics.expectMeter(Self.held, [("worker", "w")]).lastValue == 0 }

        #expect(Self.count(metrics, Self.started, "w") == 4, "three attempts of one job, one of the other")
        #expect(Self.count(metrics, Self.finished, "w", ("outcome", "failed")) == 3)
        #expect(Self.count(metrics, Self.finished, "w", ("outcome", "timedOut")) == 1)
        #expect(Self.count(metrics, Self.finished, "w", ("outcome", "succeeded")) == 0)
        #expect(Self.count(metrics, Self.claims, "w", ("result", "won")) == 4)
        let timedOut = try metrics.expectTimer(Self.runDuration, [("worker", "w"), ("outcome", "timedOut")]).values
        #expect(timedOut.count == 1 && timedOut[0] >= 50_000_000, "ran its 50 ms timeout: \(timedOut)")
        // A retry is due when its back-off ends, so its delay is timed from then.
        #expect(try metrics.expectTimer(Self.claimDelay, [("worker", "w")]).values.count == 4)
    }

    /// A worker whose session expires counts its attempt as abandoned (its end is refused); the
    /// worker that claims the run after it (the other one, or itself in a new session) counts a
    /// takeover, which starts the next attempt.
    @Test(arguments: SchedulerBackend.all)
    func anExpiredSessionCountsAnAbandonedAttemptAndATakeover(backend: SchedulerBackend) async throws {
        let cluster = try TestCluster(backend)
        defer { Task { await cluster.shutdown() } }
        let metrics = TestMetrics()
        let (handler, _, started, cancelled) = SelfFencingTests.firstAttemptHangs()
        let (_, firstStore) = try await cluster.startWorker("first", handlers: ["work": handler], metricsFactory: metrics)
        let client = try await cluster.client()
        try await client.submit(JobSpec(id: "job", handler: "work", retry: RetryPolicy(maxRetries: 2, backoffBase: .milliseconds(10))))
        try await withDeadline("the first attempt") { await started.wait() }
        try await cluster.startWorker("second", handlers: ["work": handler], metricsFactory: metrics)
        try await backend.expire(firstStore)
        try await withDeadline("the first attempt to be cancelled") { await cancelled.wait() }
        let history = try await cluster.waitForHistory("the takeover to succeed") { $0.contains { $0.outcome == .succeeded } }
        #expect(history.map(\.outcome) == [.abandoned, .succeeded])
        try await Self.eventually("the first worker to count its attempt") {
            Self.count(metrics, Self.finished, "first", ("outcome", "abandoned")) == 1
        }
        try await Self.eventually("the runs to be released") {
            metrics.meters(label: Self.held).allSatisfy { $0.lastValue == 0 }
        }

        #expect(metrics.counterTotal(label: Self.takeovers) == 1)
        #expect(metrics.counterTotal(label: Self.started) == 2)
        #expect(metrics.counterTotal(label: Self.claims, dimensions: [("result", "won")]) == 2)
        #expect(metrics.counterTotal(label: Self.finished, dimensions: [("outcome", "succeeded")]) == 1)
        #expect(metrics.counterTotal(label: Self.finished, dimensions: [("outcome", "abandoned")]) == 1)
        #expect(metrics.counterTotal(label: Self.finished) == 2)
        // A takeover's claim is not timed from the run's due time: only the first claim was.
        #expect(metrics.timers(label: Self.claimDelay).map(\.values.count).reduce(0, +) == 1)
        // The takeover's end (its run's record deleted) may stop the first attempt before the
        // first worker's handle has learned that its session ended (on etcd, at its next keep-alive).
        try await Self.eventually("the first worker to count its session's expiry") {
            Self.count(metrics, Self.sessionEvents, "first", ("state", "expired")) >= 1
        }
        #expect(Self.count(metrics, Self.sessionEvents, "second", ("state", "expired")) == 0)
    }

    /// The leader counts the fire times its overlap policy skipped.
    @Test(arguments: SchedulerBackend.all)
    func aFireTimeSkippedByTheOverlapPolicyIsCounted(backend: SchedulerBackend) async throws {
        let start = Date(timeIntervalSince1970: 1_800_000_000)
        let clock = ManualWallClock(start)
        let cluster = try TestCluster(backend, clock: clock.wallClock)
        defer { Task { await cluster.shutdown() } }
        let metrics = TestMetrics()
        let release = Signal()
        let first = Shared(true)
        let blocking: JobHandler = { _ in
            let isFirst = first.withLock { isFirst in
                defer { isFirst = false }
                return isFirst
            }
            if isFirst { await release.wait() }
            return RunOutput()
        }
        try await cluster.startWorker("w", handlers: ["block": blocking], metricsFactory: metrics)
        let client = try await cluster.client()
        try await client.submit(JobSpec(id: "skip", handler: "block", schedule: .cron(try CronExpression("* * * * * *")), overlap: .skip))
        clock.advance(by: 1)
        _ = try await cluster.waitForRuns(of: "skip", "the first run to start") { $0.first?.status == .running }
        clock.advance(by: 1)
        _ = try await cluster.waitForHistory("the skipped fire time") { $0.contains { $0.outcome == .skipped } }
        release.fire()
        _ = try await cluster.waitForHistory("the first run") { $0.contains { $0.outcome == .succeeded } }
        try await Self.eventually("the skipped fire time to be counted") { Self.count(metrics, Self.skipped, "w", ("reason", "overlap")) >= 1 }
        #expect(Self.count(metrics, Self.skipped, "w", ("reason", "overlap")) == 1)
        #expect(Self.count(metrics, Self.skipped, "w", ("reason", "misfire")) == 0)
    }
}
