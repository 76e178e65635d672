import Coordination
@testable import CoordinationScheduler
import CoordinationTestSupport
import Foundation
import Logging
import Testing

/// A worker's claims of runs of different jobs share one store transaction when they meet in its
/// group commit. A claim starts with its job's incarnation check, and a refusal of that check
/// (`noNode` at index 0) tells the worker that no run of that incarnation can ever be claimed:
/// it then leaves them all alone. So the refusal of one job's fence, in a merged transaction, must
/// reach that job's claim only: told to the other claim (at an index rebased wrongly), it would
/// leave a healthy job's runs unclaimed for as long as the worker runs.
@Suite(.serverLoadLimit) struct MergedClaimFenceTests {
    /// Both orders: the refused claim first in the merged transaction, and second.
    @Test(arguments: SchedulerBackend.all, [true, false])
    func aFenceRefusedInAMergedClaimIsToldToItsOwnClaimOnly(backend: SchedulerBackend, refusedFirst: Bool) async throws {
        let cluster = try TestCluster(backend)
        defer { Task { await cluster.shutdown() } }
        let layout = cluster.layout
        let client = try await cluster.client()
        let store = try await cluster.open()
        let healthy = JobSpec(id: "healthy", handler: "noop")
        let halfway = JobSpec(id: "halfway", handler: "noop")
        for spec in [healthy, halfway] { try await client.submit(spec) }
        let healthyView = try await ReaddedJobClaimTests.view(of: healthy, in: store, layout: layout)
        let halfwayView = try await ReaddedJobClaimTests.view(of: halfway, in: store, layout: layout)
        try await UnfinishedRemovalClaimTests.stopRemovalHalfway("halfway", client: client, layout: layout)

        // A transaction of a third domain holds the commit slot, so both claims wait and go as one.
        let held = HeldFirstTransaction(store)
        let queued = WaitingCount()
        let commits = GroupCommit(store: held) { queued.note($0) }
        let first = Task { try await commits.transaction([.check(try layout.job("healthy"), version: nil)], domain: "first") }
        try await held.waitForHeldTransaction()
        let (before, after) = refusedFirst ? (halfwayView, healthyView) : (healthyView, halfwayView)
        let earlier = Task { try await Self.claim(before, store: store, commits: commits, layout: layout) }
        try await queued.wait(for: 1)
        let later = Task { try await Self.claim(after, store: store, commits: commits, layout: layout) }
        try await queued.wait(for: 2)
        held.release()
        _ = try await first.value
        let results = [before.spec.id: try await earlier.value, after.spec.id: try await later.value]

        #expect(held.sizes.count == 3 && held.sizes[1] > held.sizes[2], "the claims went as one, then the healthy one alone: \(held.sizes)")
        guard case .jobBeingRemoved = results["halfway"] else {
            Issue.record("the claim of the job whose removal stopped halfway came to \(String(describing: results["halfway"]))")
            return
        }
        #expect(results["healthy"]?.won != nil, "the healthy job's claim came to \(String(describing: results["healthy"]))")
    }

    /// The claim a worker makes of `view`'s run through `commits`.
    static func claim(
        _ view: ReaddedJobClaimTests.StaleView, store: any CoordinationStore, commits: GroupCommit, layout: SchedulerLayout
    ) async throws -> RunExecution.ClaimResult {
        let execution = RunExecution(
            store: store, layout: layout, worker: "w0", clock: .system, logger: Logger(label: "test.merged-claims"), spec: view.spec,
            candidate: view.run, previousToken: nil, handler: { _ in RunOutput() }, historyRoom: nil,
            stateVersion: view.recordVersion, incarnation: view.incarnation, commits: commits, registration: 1,
            registrationSession: store.session.sessionID)
        return try await execution.claim(control: RunControl(fence: view.run.version))
    }
}
