import Coordination
import Foundation
import Testing

@testable import CoordinationScheduler

/// The leader's plans as workers join, leave and come back, step by step: each round is the
/// leader's own code on a view read from the store, with workers as member keys only.
@Suite(.serverLoadLimit) struct LeaderPlacementChurnTests {
    static let start = LeastLoadedPlacementTests.start

    static func register(
        _ id: String, capacity: Int = 1, weight: Int = 1, labels: [String: String] = [:], in store: any CoordinationStore,
        layout: SchedulerLayout
    ) async throws {
        let info = try JSONEncoder().encode(WorkerInfo(capacity: capacity, weight: weight, labels: labels, handlers: ["h"]))
        _ = try await store.create(try layout.worker(id), value: Array(info), mode: .ephemeral)
    }

    /// One leader round: fire times due now, then the pending runs' placement.
    static func round(_ store: any CoordinationStore, _ cluster: TestCluster) async throws {
        var view = try await LeastLoadedPlacementTests.view(of: store, layout: cluster.layout)
        var planner = PlacementState()
        let duties = LeastLoadedPlacementTests.duties(store, cluster)
        _ = await duties.materialiseDueFireTimes(view: &view, planner: &planner, stable: true)
        view = try await LeastLoadedPlacementTests.view(of: store, layout: cluster.layout)
        await duties.planPendingRuns(view: &view, planner: &planner, stable: true)
    }

    /// The assignee of each item of the job's runs of the fire time `at`.
    static func assignees(of job: String, at: Date, _ client: Scheduler) async throws -> [Int: String] {
        var result: [Int: String] = [:]
        for run in try await client.activeRuns(of: job) where run.record.scheduledAt == at {
            result[run.record.item] = run.record.assignee ?? "-"
        }
        return result
    }

    /// A consistent-hash worker that leaves has its items (pending ones too) moved to the ring's
    /// next owners, and nothing else moves; back with the same id, it gets exactly its items back.
    @Test(arguments: SchedulerBackend.all)
    func aReturningWorkerGetsExactlyItsConsistentHashItemsBack(backend: SchedulerBackend) async throws {
        let clock = ManualWallClock(Self.start)
        let cluster = try TestCluster(backend, clock: clock.wallClock)
        defer { Task { await cluster.shutdown() } }
        let (store, layout) = (try await cluster.open(), cluster.layout)
        let client = try await cluster.client()
        for id in ["w0", "w1", "w2"] { try await Self.register(id, in: store, layout: layout) }
        try await client.submit(
            JobSpec(id: "hashed", handler: "h", schedule: .every(.seconds(10), start: nil), shards: 12, placement: .consistentHash))

        clock.advance(by: 10)
        try await Self.round(store, cluster)
        let first = try await Self.assignees(of: "hashed", at: clock.now, client)
        let ring = HashRing(nodes: ["w0", "w1", "w2"])
        #expect(first == Dictionary(uniqueKeysWithValues: (0..<12).map { ($0, ring.owner(of: "hashed/\($0)")!) }))
        let mine = Set(first.filter { $0.value == "w2" }.keys)
        #expect(!mine.isEmpty, "w2 owns some of the 12 items")

        _ = try await store.delete(try layout.worker("w2"), ifVersion: nil)
        let firstFire = clock.now
        clock.advance(by: 10)
        try await Self.round(store, cluster)
        let second = try await Self.assignees(of: "hashed", at: clock.now, client)
        for item in 0..<12 {
            if mine.contains(item) {
                #expect(second[item] != "w2" && second[item] != nil, "item \(item) moved off w2")
            } else {
                #expect(second[item] == first[item], "item \(item) stayed where it was")
            }
        }
        #expect(try await Self.assignees(of: "hashed", at: firstFire, client) == second, "the pending items moved alike")

        try await Self.register("w2", in: store, layout: layout)
        clock.advance(by: 10)
        try await Self.round(store, cluster)
        #expect(try await Self.assignees(of: "hashed", at: clock.now, client) == first, "w2 got exactly its items back")
    }

    /// A new leader's first membership may be changing as it takes over: it waits a window
    /// before moving anything, as after any change.
    @Test func aNewLeadersFirstMembershipIsNotSettled() {
        var state = PlacementState()
        let first = state.noteMembers(["a", "b"])
        #expect(first, "a change, which starts the window")
        #expect(!state.isStable(window: .seconds(60)))
        let again = state.noteMembers(["a", "b"])
        #expect(!again, "the same members")
        #expect(state.isStable(window: .zero))
    }

    /// Every change of membership starts the window again, measured from that change: a worker
    /// that blips (leaves and comes back) within it keeps its items. A change that left the
    /// window where the first one put it was caught only by a test that depended on load.
    @Test func eachMembershipChangeStartsTheWindowAgain() {
        var state = PlacementState()
        let start = ContinuousClock.now
        let window = Duration.seconds(10)
        #expect(!state.isStable(window: .zero, at: start), "no membership seen yet")
        let joined = state.noteMembers(["a", "b"], at: start)
        #expect(joined)
        #expect(state.isStable(window: window, at: start + window), "settled a window after the first change")
        let left = state.noteMembers(["a"], at: start + .seconds(12))
        #expect(left, "b left")
        #expect(!state.isStable(window: window, at: start + .seconds(21)), "within a window of b's leaving")
        let same = state.noteMembers(["a"], at: start + .seconds(15))
        #expect(!same, "the same members again")
        #expect(state.isStable(window: window, at: start + .seconds(22)), "a window after the last change, not after the same members seen again")
    }

    /// Consistent hashing moves only what a joining worker takes: as workers join one by one,
    /// every item that changes owner goes to the newcomer.
    @Test func workersJoiningOneByOneTakeItemsOnlyForThemselves() {
        let items = (0..<JobSpec.maxShards).map { "job/\($0)" }
        var nodes = ["w0"]
        var owners = items.map { HashRing(nodes: nodes).owner(of: $0)! }
        for next in 1..<8 {
            nodes.append("w\(next)")
            let ring = HashRing(nodes: nodes)
            let now = items.map { ring.owner(of: $0)! }
            let moved = zip(owners, now).filter { $0 != $1 }
            #expect(moved.allSatisfy { $0.1 == "w\(next)" }, "only to the newcomer w\(next)")
            #expect(!moved.isEmpty, "w\(next) takes a share")
            owners = now
        }
    }

    /// Weighted items follow the weights of the workers able to run the job, through joins and
    /// leaves, with the fewest moves; a worker without the job's labels gets none, whatever its
    /// weight.
    @Test(arguments: SchedulerBackend.all)
    func weightedItemsFollowTheWeightsThroughChurn(backend: SchedulerBackend) async throws {
        let clock = ManualWallClock(Self.start)
        let cluster = try TestCluster(backend, clock: clock.wallClock)
        defer { Task { await cluster.shutdown() } }
        let (store, layout) = (try await cluster.open(), cluster.layout)
        let client = try await cluster.client()
        let zone = ["zone": "a"]
        try await Self.register("light", weight: 1, labels: zone, in: store, layout: layout)
        try await Self.register("heavy", weight: 3, labels: zone, in: store, layout: layout)
        try await Self.register("elsewhere", weight: 5, labels: ["zone": "b"], in: store, layout: layout)
        try await client.submit(
            JobSpec(
                id: "weighted", handler: "h", schedule: .every(.seconds(10), start: nil), shards: 12, requiredLabels: zone,
                placement: .weighted))
        func shares() async throws -> [String: Int] {
            let plan = try #require(try await client.job("weighted")?.state.itemAssignment)
            return plan.values.reduce(into: [:]) { $0[$1, default: 0] += 1 }
        }
        clock.advance(by: 10)
        try await Self.round(store, cluster)
        #expect(try await shares() == ["light": 3, "heavy": 9])
        let before = try #require(try await client.job("weighted")?.state.itemAssignment)

        try await Self.register("middle", weight: 2, labels: zone, in: store, layout: layout)
        try await Self.round(store, cluster)
        #expect(try await shares() == ["light": 2, "heavy": 6, "middle": 4])
        let after = try #require(try await client.job("weighted")?.state.itemAssignment)
        #expect(BalancedAssignment.moves(from: before, to: after) == 4, "only middle's four items moved")
        #expect(Set(try await Self.assignees(of: "weighted", at: clock.now, client).values) == ["light", "heavy", "middle"],
            "the pending runs follow the plan")

        _ = try await store.delete(try layout.worker("heavy"), ifVersion: nil)
        try await Self.round(store, cluster)
        #expect(try await shares() == ["light": 4, "middle": 8])
    }

    /// Least-loaded places by free capacity: a worker of 4 slots takes four runs for each one a
    /// worker of 1 slot takes.
    @Test(arguments: SchedulerBackend.all)
    func leastLoadedFillsWorkersByTheirCapacity(backend: SchedulerBackend) async throws {
        let cluster = try TestCluster(backend)
        defer { Task { await cluster.shutdown() } }
        let (store, layout) = (try await cluster.open(), cluster.layout)
        let client = try await cluster.client()
        try await Self.register("small", capacity: 1, in: store, layout: layout)
        try await Self.register("large", capacity: 4, in: store, layout: layout)
        try await client.submit((0..<10).map { JobSpec(id: "job\($0)", handler: "h", placement: .leastLoaded) })
        try await Self.round(store, cluster)
        var counts: [String: Int] = [:]
        for index in 0..<10 {
            for run in try await client.activeRuns(of: "job\(index)") { counts[run.record.assignee ?? "-", default: 0] += 1 }
        }
        #expect(counts == ["small": 2, "large": 8])
    }

    /// Round-robin takes workers in turn whatever their capacity; a sharded job's items, which
    /// keep their workers from one fire time to the next, are spread by capacity.
    @Test(arguments: SchedulerBackend.all)
    func roundRobinTakesTurnsAndSpreadsItemsByCapacity(backend: SchedulerBackend) async throws {
        let clock = ManualWallClock(Self.start)
        let cluster = try TestCluster(backend, clock: clock.wallClock)
        defer { Task { await cluster.shutdown() } }
        let (store, layout) = (try await cluster.open(), cluster.layout)
        let client = try await cluster.client()
        try await Self.register("small", capacity: 1, in: store, layout: layout)
        try await Self.register("large", capacity: 4, in: store, layout: layout)
        try await client.submit((0..<4).map { JobSpec(id: "job\($0)", handler: "h", placement: .roundRobin) })
        try await client.submit(
            JobSpec(id: "sharded", handler: "h", schedule: .every(.seconds(10), start: nil), shards: 5, placement: .roundRobin))
        clock.advance(by: 10)
        try await Self.round(store, cluster)
        var turns: [String: Int] = [:]
        for index in 0..<4 {
            for run in try await client.activeRuns(of: "job\(index)") { turns[run.record.assignee ?? "-", default: 0] += 1 }
        }
        #expect(turns == ["small": 2, "large": 2])
        let items = try await Self.assignees(of: "sharded", at: clock.now, client).values
        #expect(items.filter { $0 == "small" }.count == 1 && items.filter { $0 == "large" }.count == 4, "\(items)")
    }
}
