import Coordination
import CoordinationRecipes
import CoordinationScheduler
import CoordinationTestSupport
import Testing

/// A claim refused by its job's state check, when the worker has already handled the state's
/// change by the time the refusal comes back: the job was re-evaluated with that state, so the
/// refusal is no lost race. Taken for one, the run was left out until it changed, and nothing
/// changed it: it sat pending.
@Suite(.serverLoadLimit) struct StateMovedClaimTests {
    /// The job is paused and resumed between the worker's choice of its run and the claim.
    @Test(arguments: SchedulerBackend.all)
    func aClaimRefusedByAStateTheWorkerHasSeenIsTriedAgain(backend: SchedulerBackend) async throws {
        let cluster = try TestCluster(backend)
        defer { Task { await cluster.shutdown() } }
        let layout = cluster.layout
        let jobKey = try layout.job("job")
        let client = try await cluster.client()
        let moved = Shared<Int64?>(nil)
        let harnessFailure = Shared<CoordinationError?>(nil)
        try await cluster.startWorker("w", handlers: ["work": { _ in RunOutput(message: "done") }]) { base in
            let sight = DeliveredVersionStore(base, key: jobKey)
            return InterposedTransaction(sight, .before, when: ReplacedSessionClaimTests.claims(in: layout)) {
                try await client.pause("job")
                try await client.resume("job")
                // The claim goes (and is refused) once the worker has handled the resume.
                try await Self.holdClaimUntilHandled(jobKey, in: base, by: sight, moved: moved, failure: harnessFailure)
            }
        }
        try await Self.expectClaimedAgain(cluster, client, moved: moved, harnessFailure: harnessFailure)
    }

    /// As above, but the pause and resume reach the worker only in a fresh snapshot: they land
    /// while its watches start over (it becomes the leader), between the old watch's end and the
    /// new one's read, as a watch's resync after lost continuity (an etcd compaction) delivers
    /// them. Under load the worker's leadership came that late, and the harness, which counted
    /// only a put of the job as handled, held the claim back for good.
    @Test(arguments: SchedulerBackend.all)
    func aClaimRefusedByAStateTheWorkerSawInASnapshotIsTriedAgain(backend: SchedulerBackend) async throws {
        let cluster = try TestCluster(backend)
        defer { Task { await cluster.shutdown() } }
        let layout = cluster.layout
        let jobKey = try layout.job("job")
        // The leader at first: it has no handler for the job, so it never claims its run.
        try await cluster.startWorker("leader", handlers: [:])
        let election = LeaderElection(store: try await cluster.open(), path: layout.leader, identity: "observer")
        try await withDeadline("the first worker to lead") {
            for try await leader in election.leaders() where leader?.identityString == "leader" { return }
        }
        let client = try await cluster.client()
        let moved = Shared<Int64?>(nil)
        let harnessFailure = Shared<CoordinationError?>(nil)
        try await cluster.startWorker("w", handlers: ["work": { _ in RunOutput(message: "done") }]) { base in
            let startOver = ChangeBeforeWatchingAllJobs(base, layout: layout)
            let sight = DeliveredVersionStore(startOver, key: jobKey)
            return InterposedTransaction(sight, .before, when: ReplacedSessionClaimTests.claims(in: layout)) {
                startOver.arm {
                    try await client.pause("job")
                    try await client.resume("job")
                }
                // The other worker leaves: "w" leads, and watches every job afresh.
                try await cluster.stopWorker("leader")
                try await withDeadline("the pause and resume as the worker's watches start over") { await startOver.changed.wait() }
                try await Self.holdClaimUntilHandled(jobKey, in: base, by: sight, moved: moved, failure: harnessFailure)
            }
        }
        try await Self.expectClaimedAgain(cluster, client, moved: moved, harnessFailure: harnessFailure)
    }

    /// Submits the job and expects its run, refused once as the job's state moved, to be claimed
    /// again and succeed, with the harness having seen the worker handle the move.
    static func expectClaimedAgain(
        _ cluster: TestCluster, _ client: Scheduler, moved: Shared<Int64?>, harnessFailure: Shared<CoordinationError?>
    ) async throws {
        try await client.submit(JobSpec(id: "job", handler: "work"))
        let history = try await cluster.waitForHistory("the run, claimed again") { successes("job")($0) }
        #expect(harnessFailure.value == nil)
        #expect(moved.value != nil, "the job's state moved under the first claim")
        #expect(history.map(\.outcome) == [.succeeded])
        #expect(try await client.activeRuns(of: "job").isEmpty)
    }

    /// Notes the job's version now that its state moved, in `moved`, then holds the claim back
    /// until the worker has handled it (``waitUntilHandled(_:by:failure:)``).
    static func holdClaimUntilHandled(
        _ jobKey: Key, in base: any CoordinationStore, by sight: DeliveredVersionStore, moved: Shared<Int64?>,
        failure: Shared<CoordinationError?>
    ) async throws {
        guard let version = try await base.get(jobKey)?.version else { throw CoordinationError(.noNode, "job gone") }
        moved.withLock { $0 = version }
        try await waitUntilHandled(version, by: sight, failure: failure)
    }

    /// Holds the claim back until the worker has handled `version` of the job. A harness that
    /// cannot tell notes so in `failure` and lets the claim go: the test then fails saying so,
    /// rather than as a run that sat pending (a claim never sent looks like one left out).
    static func waitUntilHandled(_ version: Int64, by sight: DeliveredVersionStore, failure: Shared<CoordinationError?>) async throws {
        do {
            try await sight.waitUntilHandled(version)
        } catch let error as CoordinationError where error.code == .timeout {
            failure.withLock { $0 = error }
        }
    }
}
