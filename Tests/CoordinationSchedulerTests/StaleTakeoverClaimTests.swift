import Coordination
import CoordinationTestSupport
@testable import CoordinationScheduler
import Foundation
import Logging
import Testing

/// A worker whose view is behind a cancel request or a pause tries to take over a run whose
/// worker's session has ended. The run (or its job) changed after the view saw it, and only the
/// claim's version checks can tell: the claim key is gone, so creating it succeeds. The chaos
/// harness cannot time this; here it is staged step by step.
@Suite(.serverLoadLimit) struct StaleTakeoverClaimTests {
    /// What the stale worker saw, and the lost attempt's claim key.
    struct Staged {
        let stale: ReaddedJobClaimTests.StaleView
        let claimKey: Key
        let lostToken: Int64
    }

    /// Submits `spec` (no worker runs), claims its only run on a handle of its own as worker
    /// `lost` would, and returns what a view saw right after that claim, with the handle.
    static func claimedOnAHandleOfItsOwn(
        _ spec: JobSpec, cluster: TestCluster, client: Scheduler
    ) async throws -> (Staged, lostStore: any CoordinationStore) {
        try await client.submit(spec)
        let lostStore = try await cluster.open()
        let pending = try await ReaddedJobClaimTests.view(of: spec, in: lostStore, layout: cluster.layout)
        let execution = RunExecution(
            store: lostStore, layout: cluster.layout, worker: "lost", clock: .system, logger: Logger(label: "test.lost"), spec: spec,
            candidate: pending.run, previousToken: nil, handler: { _ in RunOutput() }, historyRoom: nil,
            stateVersion: pending.recordVersion, incarnation: pending.incarnation, commits: nil, registration: 1, registrationSession: lostStore.session.sessionID)
        let claim = try #require(try await execution.claim(control: RunControl(fence: pending.run.version)).won, "the first claim")
        let running = try await ReaddedJobClaimTests.view(of: spec, in: lostStore, layout: cluster.layout)
        try #require(running.run.record.status == .running && running.run.record.worker == "lost")
        return (Staged(stale: running, claimKey: claim.claimKey, lostToken: claim.token), lostStore)
    }

    /// Ends the lost worker's session and checks its claim went with it.
    static func endSession(of lostStore: any CoordinationStore, staged: Staged, cluster: TestCluster, reader: any CoordinationStore)
        async throws
    {
        try await cluster.backend.expire(lostStore)
        try #require(try await reader.get(staged.claimKey) == nil, "the lost worker's claim ended with its session")
    }

    /// The takeover a worker makes from its stale view; `started` counts handler starts.
    static func staleTakeover(
        _ staged: Staged, store: any CoordinationStore, layout: SchedulerLayout, started: Shared<Int>
    ) async throws -> RunExecution.Claim? {
        let stale = staged.stale
        let execution = RunExecution(
            store: store, layout: layout, worker: "stale", clock: .system, logger: Logger(label: "test.stale"), spec: stale.spec,
            candidate: stale.run, previousToken: staged.lostToken,
            handler: { _ in
                started.withLock { $0 += 1 }
                return RunOutput()
            }, historyRoom: nil, stateVersion: stale.recordVersion, incarnation: stale.incarnation, commits: nil, registration: 1,
            registrationSession: store.session.sessionID)
        let control = RunControl(fence: stale.run.version)
        guard let claim = try await execution.claim(control: control).won else { return nil }
        // Won (wrongly): go on as the worker would, so the failure also shows what ran.
        if claim.finalEntry == nil {
            await execution.settle(await execution.perform(claim, control: control), claim: claim, control: control)
        }
        return claim
    }

    /// The cancel request moved the run record past the version the stale view holds: the
    /// takeover must check that version, or the cancelled run runs again (at the next attempt).
    @Test(arguments: SchedulerBackend.all)
    func aStaleViewCannotTakeOverARunCancelledBeforeItsWorkerWasLost(backend: SchedulerBackend) async throws {
        let cluster = try TestCluster(backend)
        defer { Task { await cluster.shutdown() } }
        let client = try await cluster.client()
        let store = try await cluster.open()
        let spec = JobSpec(id: "job", handler: "work", retry: RetryPolicy(maxRetries: 2, backoffBase: .milliseconds(10)))
        let (staged, lostStore) = try await Self.claimedOnAHandleOfItsOwn(spec, cluster: cluster, client: client)

        let cancelled = try await client.cancel("job")
        #expect(cancelled.askedToStop.count == 1, "the run was running when cancelled")
        try await Self.endSession(of: lostStore, staged: staged, cluster: cluster, reader: store)

        let started = Shared(0)
        let claim = try await Self.staleTakeover(staged, store: store, layout: cluster.layout, started: started)
        #expect(claim == nil, "the cancelled run was taken over (attempt \(claim?.record.attempt ?? 0))")
        #expect(started.value == 0, "the cancelled run's handler ran again")
        #expect(try await store.get(staged.claimKey) == nil, "no claim on the cancelled run")
        let runs = try await client.activeRuns(of: "job")
        #expect(runs.map(\.record.cancelRequested) == [true], "the cancel request stands")
        #expect(runs.map(\.record.worker) == ["lost"])
        #expect(try await client.history(of: "job").isEmpty, "nothing recorded by the stale worker")
    }

    /// The pause moved only the job's record: the run record is still at the version the stale
    /// view holds, so only the claim's check of the job's state version keeps the paused job's
    /// run from being taken over and run.
    @Test(arguments: SchedulerBackend.all)
    func aStaleViewCannotTakeOverARunOfAJobPausedBeforeItsWorkerWasLost(backend: SchedulerBackend) async throws {
        let cluster = try TestCluster(backend)
        defer { Task { await cluster.shutdown() } }
        let client = try await cluster.client()
        let store = try await cluster.open()
        let spec = JobSpec(id: "job", handler: "work", retry: RetryPolicy(maxRetries: 2, backoffBase: .milliseconds(10)))
        let (staged, lostStore) = try await Self.claimedOnAHandleOfItsOwn(spec, cluster: cluster, client: client)

        try await client.pause("job")
        try await Self.endSession(of: lostStore, staged: staged, cluster: cluster, reader: store)
        let runBefore = try #require(try await store.get(staged.stale.run.key))
        try #require(runBefore.version == staged.stale.run.version, "the pause left the run record as the stale view saw it")

        let started = Shared(0)
        let claim = try await Self.staleTakeover(staged, store: store, layout: cluster.layout, started: started)
        #expect(claim == nil, "the paused job's run was taken over (attempt \(claim?.record.attempt ?? 0))")
        #expect(started.value == 0, "the paused job's run ran")
        #expect(try await store.get(staged.claimKey) == nil, "no claim on the paused job's run")
        #expect(try await store.get(staged.stale.run.key)?.version == runBefore.version, "the run record is untouched")
        #expect(try await client.history(of: "job").isEmpty, "nothing recorded by the stale worker")
    }
}
