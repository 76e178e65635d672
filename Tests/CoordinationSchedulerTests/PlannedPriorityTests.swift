import Coordination
import Foundation
import Testing

@testable import CoordinationScheduler

/// When slots are scarce the leader places the most urgent runs first, so that a higher
/// priority gets the free slot rather than whichever job's id sorts first.
@Suite(.serverLoadLimit) struct PlannedPriorityTests {
    /// Workers a and b have one slot each and a is busy: of two least-loaded runs placed in one
    /// round, the high-priority one must get b's free slot. The leader placed runs in job-id
    /// order, so `a-low` took b and `b-high` was queued behind a's run.
    @Test(arguments: SchedulerBackend.all)
    func theFreeSlotGoesToTheHigherPriority(backend: SchedulerBackend) async throws {
        let cluster = try TestCluster(backend)
        defer { Task { await cluster.shutdown() } }
        let (store, layout) = (try await cluster.open(), cluster.layout)
        let client = try await cluster.client()
        try await LeastLoadedPlacementTests.register(["a", "b"], in: store, layout: layout)
        try await LeastLoadedPlacementTests.occupy("a", with: "busy", startedAt: Date(), client: client, store: store, layout: layout)
        try await client.submit([
            JobSpec(id: "a-low", handler: "h", priority: 1, placement: .leastLoaded),
            JobSpec(id: "b-high", handler: "h", priority: 9, placement: .leastLoaded),
        ])
        var view = try await LeastLoadedPlacementTests.view(of: store, layout: layout)
        var planner = PlacementState()
        await LeastLoadedPlacementTests.duties(store, cluster).planPendingRuns(view: &view, planner: &planner, stable: true)
        #expect(try await client.activeRuns(of: "b-high").map(\.record.assignee) == ["b"], "the free slot goes to priority 9")
        #expect(try await client.activeRuns(of: "a-low").map(\.record.assignee) == ["a"], "priority 1 waits behind a's run")
    }

    /// The same for two recurring fire times due in the same round.
    @Test(arguments: SchedulerBackend.all)
    func theFreeSlotGoesToTheHigherPriorityFireTime(backend: SchedulerBackend) async throws {
        let clock = ManualWallClock(LeastLoadedPlacementTests.start)
        let cluster = try TestCluster(backend, clock: clock.wallClock)
        defer { Task { await cluster.shutdown() } }
        let (store, layout) = (try await cluster.open(), cluster.layout)
        let client = try await cluster.client()
        try await LeastLoadedPlacementTests.register(["a", "b"], in: store, layout: layout)
        try await LeastLoadedPlacementTests.occupy("a", with: "busy", startedAt: clock.now, client: client, store: store, layout: layout)
        let every = JobSchedule.every(.seconds(10), start: nil)
        try await client.submit([
            JobSpec(id: "a-low", handler: "h", schedule: every, priority: 1, placement: .leastLoaded),
            JobSpec(id: "b-high", handler: "h", schedule: every, priority: 9, placement: .leastLoaded),
        ])
        clock.advance(by: 10)
        var view = try await LeastLoadedPlacementTests.view(of: store, layout: layout)
        var planner = PlacementState()
        _ = await LeastLoadedPlacementTests.duties(store, cluster).materialiseDueFireTimes(view: &view, planner: &planner, stable: true)
        #expect(try await client.activeRuns(of: "b-high").map(\.record.assignee) == ["b"], "the free slot goes to priority 9")
        #expect(try await client.activeRuns(of: "a-low").map(\.record.assignee) == ["a"], "priority 1 waits behind a's run")
    }
}
