import Coordination
@testable import CoordinationScheduler
import CoordinationTestSupport
import Foundation
import Testing

/// ``Scheduler/remove(_:)`` cancels the job's active runs, then deletes its incarnation key, then
/// the rest. A run made in between (a trigger, a fire time, or claimed and then abandoned by its
/// worker) stays when the removal stops right after the key's deletion, and a claim checked the
/// run's and the job's record versions only: the run was claimed, and its handler run, for a job
/// being removed. Now the claim checks the key, and a worker whose claim it refuses leaves every
/// run of that incarnation for `coord job rm`: one refused claim, not one per run, nor a takeover
/// tried again every ``Worker/takeoverRetryDelay``.
@Suite(.serverLoadLimit) struct UnfinishedRemovalClaimTests {
    /// The handlers: `removing` (the job being removed) counts its calls in `handled`.
    static func handlers(counting handled: Shared<Int>) -> [String: JobHandler] {
        [
            "removing": { _ in
                handled.withLock { $0 += 1 }
                return RunOutput()
            },
            "noop": { _ in RunOutput() },
        ]
    }

    /// Deletes the key of `job`'s incarnation, as a removal that stopped right after it leaves it.
    static func stopRemovalHalfway(_ job: String, client: Scheduler, layout: SchedulerLayout) async throws {
        let tag = try #require(try await client.job(job)?.state.incarnation)
        try await client.store.delete(try layout.incarnation(of: job, tag: tag), ifVersion: nil)
        #expect(try await client.isBeingRemoved(try #require(try await client.job(job))))
    }

    @Test(arguments: SchedulerBackend.all)
    func aWorkerClaimsNoPendingRunOfAJobWhoseRemovalStoppedHalfway(backend: SchedulerBackend) async throws {
        let cluster = try TestCluster(backend)
        defer { Task { await cluster.shutdown() } }
        let layout = cluster.layout
        let client = try await cluster.client()
        // Three pending items, first in the claim order; no worker up yet.
        try await client.submit(JobSpec(id: "halfway", handler: "removing", shards: 3, priority: 10))
        let pending = try await client.activeRuns(of: "halfway")
        try #require(pending.count == 3)
        try await Self.stopRemovalHalfway("halfway", client: client, layout: layout)

        let attempts = TransactionCount.claims(of: try layout.job("halfway"))
        let handled = Shared(0)
        // One slot: the claims are made one after another, the job's before any of a lower priority.
        try await cluster.startWorker("w0", capacity: 1, handlers: Self.handlers(counting: handled)) { attempts.counting($0) }
        try await withDeadline("the worker's first claim of a run of the job") { await attempts.answered.wait() }
        // Claimed once its other items have been tried (they come first), were they tried.
        try await client.submit(JobSpec(id: "other", handler: "noop"))
        _ = try await cluster.waitForHistory("the other job's run", successes("other"))

        #expect(handled.value == 0, "a run of a job being removed was run")
        #expect(attempts.count == 1, "\(attempts.count) claims of the job's runs; one refused claim tells they all would be")
        let runs = try await client.activeRuns(of: "halfway")
        #expect(runs.map(\.record.run) == pending.map(\.record.run))
        #expect(runs.allSatisfy { $0.record.status == .pending && $0.record.worker == nil }, "the runs are left as they were")
        try await client.remove("halfway")
        #expect(try await client.job("halfway") == nil, "`coord job rm` finishes the removal")
    }

    @Test(arguments: SchedulerBackend.all)
    func aWorkerTakesOverNoRunOfAJobWhoseRemovalStoppedHalfway(backend: SchedulerBackend) async throws {
        let cluster = try TestCluster(backend)
        defer { Task { await cluster.shutdown() } }
        let layout = cluster.layout
        let client = try await cluster.client()
        let reader = try await cluster.open()
        // Claimed after the removal's cancel (so not asked to stop), then abandoned: its worker's
        // session ended. A retry is left, which a takeover would run.
        let spec = JobSpec(id: "halfway", handler: "removing", retry: RetryPolicy(maxRetries: 2, backoffBase: .milliseconds(10)))
        let (staged, lostStore) = try await StaleTakeoverClaimTests.claimedOnAHandleOfItsOwn(spec, cluster: cluster, client: client)
        try await StaleTakeoverClaimTests.endSession(of: lostStore, staged: staged, cluster: cluster, reader: reader)
        try await Self.stopRemovalHalfway("halfway", client: client, layout: layout)

        let attempts = TransactionCount.claims(of: try layout.job("halfway"))
        let handled = Shared(0)
        try await cluster.startWorker("w0", handlers: Self.handlers(counting: handled)) { attempts.counting($0) }
        try await withDeadline("the worker's first takeover of the run") { await attempts.answered.wait() }
        // A lost takeover is tried again after a delay, with no event to wait for: wait out two.
        try await Task.sleep(for: Worker.takeoverRetryDelay * 2 + .milliseconds(500))

        #expect(handled.value == 0, "a run of a job being removed was run")
        #expect(attempts.count == 1, "\(attempts.count) takeovers of the run; one refused tells it never can be")
        let runs = try await client.activeRuns(of: "halfway")
        #expect(runs.map { "\($0.record.status) \($0.record.worker ?? "-") \($0.record.attempt)" } == ["running lost 1"])
        try await client.remove("halfway")
        #expect(try await client.job("halfway") == nil, "`coord job rm` finishes the removal")
    }
}
