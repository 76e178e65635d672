import Coordination
import Foundation
import Testing

@testable import CoordinationScheduler

/// The leader keeps a pending run with its assignee while membership is settling, even when
/// that assignee is no longer a member: a worker whose session blipped, or that restarts, is
/// back within the stabilisation window and finds its run where it was, rather than the run
/// moved away (and sticky items moved back and forth). Once membership has settled, a run
/// whose assignee is gone goes to a live worker.
@Suite(.serverLoadLimit) struct DeadAssigneeStabilisationTests {
    @Test(arguments: SchedulerBackend.all)
    func aRunOfAWorkerThatLeftMovesOnlyOnceMembershipHasSettled(backend: SchedulerBackend) async throws {
        let cluster = try TestCluster(backend)
        defer { Task { await cluster.shutdown() } }
        let (store, layout) = (try await cluster.open(), cluster.layout)
        let client = try await cluster.client()
        try await LeastLoadedPlacementTests.register(["live"], in: store, layout: layout)
        try await client.submit(JobSpec(id: "job", handler: "h", placement: .roundRobin))
        // Its run assigned to a worker that has since left.
        let submitted = try #require(try await client.activeRuns(of: "job").first)
        var assigned = submitted.record
        assigned.assignee = "gone"
        _ = try await store.set(try layout.run("job", assigned.run), value: try SchedulerJSON.encode(assigned), ifVersion: submitted.version)
        let duties = LeastLoadedPlacementTests.duties(store, cluster)
        var planner = PlacementState()

        var view = try await LeastLoadedPlacementTests.view(of: store, layout: layout)
        await duties.planPendingRuns(view: &view, planner: &planner, stable: false)
        #expect(try await client.activeRuns(of: "job").map(\.record.assignee) == ["gone"], "kept while membership settles")

        view = try await LeastLoadedPlacementTests.view(of: store, layout: layout)
        await duties.planPendingRuns(view: &view, planner: &planner, stable: true)
        #expect(try await client.activeRuns(of: "job").map(\.record.assignee) == ["live"], "moved once membership has settled")
    }
}
