import Coordination
import Foundation
import Testing

@testable import CoordinationScheduler

/// While membership is settling, a fire time keeps the job's item assignment (moves wait), and
/// that assignment may still name a worker that has left. The item's new run must then go to a
/// live worker: placed on the departed one, it waited, pending, until membership settled (the
/// leader replaces a dead assignee only then), for as long as workers kept coming and going.
@Suite(.serverLoadLimit) struct UnsettledStickyPlacementTests {
    static let start = LeastLoadedPlacementTests.start

    /// One leader round while membership is still settling.
    static func unsettledRound(_ store: any CoordinationStore, _ cluster: TestCluster) async throws {
        var view = try await LeastLoadedPlacementTests.view(of: store, layout: cluster.layout)
        var planner = PlacementState()
        let duties = LeastLoadedPlacementTests.duties(store, cluster)
        _ = await duties.materialiseDueFireTimes(view: &view, planner: &planner, stable: false)
        view = try await LeastLoadedPlacementTests.view(of: store, layout: cluster.layout)
        await duties.planPendingRuns(view: &view, planner: &planner, stable: false)
    }

    @Test(arguments: SchedulerBackend.all)
    func anItemStuckToADepartedWorkerGoesToALiveOneWhileMembershipSettles(backend: SchedulerBackend) async throws {
        let clock = ManualWallClock(Self.start)
        let cluster = try TestCluster(backend, clock: clock.wallClock)
        defer { Task { await cluster.shutdown() } }
        let (store, layout) = (try await cluster.open(), cluster.layout)
        let client = try await cluster.client()
        try await LeastLoadedPlacementTests.register(["w0", "w1"], in: store, layout: layout)
        try await client.submit(
            JobSpec(id: "sharded", handler: "h", schedule: .every(.seconds(10), start: nil), shards: 2, placement: .roundRobin))

        clock.advance(by: 10)
        try await LeaderPlacementChurnTests.round(store, cluster)
        let first = try await LeaderPlacementChurnTests.assignees(of: "sharded", at: clock.now, client)
        try #require(Set(first.values) == ["w0", "w1"], "one item on each worker: \(first)")

        _ = try await store.delete(try layout.worker("w1"), ifVersion: nil)
        clock.advance(by: 10)
        try await Self.unsettledRound(store, cluster)
        let second = try await LeaderPlacementChurnTests.assignees(of: "sharded", at: clock.now, client)
        #expect(second == [0: "w0", 1: "w0"], "both items of the new fire time on the live worker: \(second)")
    }
}
