import Coordination
@testable import CoordinationScheduler
import CoordinationTestSupport
import Foundation
import Testing

/// A claim's first operation is its job's incarnation check, and its refusal is told by its index
/// (``IncarnationFence/refused(_:)``). A view behind a removal that stopped halfway typically
/// fails more than that check: the removal cancelled the runs it saw (their versions moved on)
/// and may have changed the job's record. Every backend must still name the first failing
/// operation, the check, so that the worker learns the incarnation is being removed instead of
/// taking the claim for a lost race and trying again at each change.
@Suite(.serverLoadLimit) struct FenceFirstRefusalTests {
    @Test(arguments: SchedulerBackend.all)
    func aClaimRefusedByItsFenceSaysSoThoughItsRunAndJobChangedToo(backend: SchedulerBackend) async throws {
        let cluster = try TestCluster(backend)
        defer { Task { await cluster.shutdown() } }
        let layout = cluster.layout
        let client = try await cluster.client()
        let store = try await cluster.open()
        let spec = JobSpec(id: "halfway", handler: "noop")
        try await client.submit(spec)
        let stale = try await ReaddedJobClaimTests.view(of: spec, in: store, layout: layout)
        // Past the versions the claim checks: the run (its create of the claim then fails too,
        // the key being taken) and the job's record.
        _ = try await store.create(try layout.claim(spec.id, stale.run.record.run), value: [], mode: .ephemeral)
        let run = try #require(try await store.get(stale.run.key))
        _ = try await store.set(stale.run.key, value: run.value, ifVersion: run.version)
        let job = try #require(try await store.get(try layout.job(spec.id)))
        _ = try await store.set(job.key, value: job.value, ifVersion: job.version)
        try await UnfinishedRemovalClaimTests.stopRemovalHalfway(spec.id, client: client, layout: layout)

        let execution = RunExecution(
            store: store, layout: layout, worker: "w0", clock: .system, logger: .init(label: "test.fence-first"), spec: spec,
            candidate: stale.run, previousToken: nil, handler: { _ in RunOutput() }, historyRoom: nil,
            stateVersion: stale.recordVersion, incarnation: stale.incarnation, commits: nil, registration: 1,
            registrationSession: store.session.sessionID)
        let result = try await execution.claim(control: RunControl(fence: stale.run.version))
        guard case .jobBeingRemoved = result else {
            Issue.record("the claim came to \(result), not to the refusal of its incarnation's key")
            return
        }
    }
}
