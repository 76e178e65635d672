import Coordination
import Foundation
import Logging
import Testing

@testable import CoordinationScheduler

/// The leader places runs of least-loaded jobs on the workers with the most free capacity,
/// counting every run the workers have, including those it places in the same round.
@Suite(.serverLoadLimit) struct LeastLoadedPlacementTests {
    static let start = Date(timeIntervalSince1970: 1_800_000_000)

    /// Workers of one slot each, as member keys only: nobody runs anything here.
    static func register(_ ids: [String], in store: any CoordinationStore, layout: SchedulerLayout) async throws {
        let info = try JSONEncoder().encode(WorkerInfo(capacity: 1, weight: 1, labels: [:], handlers: ["h"]))
        for id in ids { _ = try await store.create(try layout.worker(id), value: Array(info), mode: .ephemeral) }
    }

    /// Submits job `job` and marks its run as running on `worker` since `startedAt`, as that
    /// worker's claim would: the worker's one slot is taken.
    static func occupy(
        _ worker: String, with job: String, startedAt: Date, client: Scheduler, store: any CoordinationStore, layout: SchedulerLayout
    ) async throws {
        try await client.submit(JobSpec(id: job, handler: "h"))
        let submitted = try #require(try await client.activeRuns(of: job).first)
        var running = submitted.record
        running.status = .running
        running.worker = worker
        running.startedAt = startedAt
        _ = try await store.set(try layout.run(job, running.run), value: try SchedulerJSON.encode(running), ifVersion: submitted.version)
    }

    /// The leader's view of the store as it is now: the jobs with their runs, and the members.
    static func view(of store: any CoordinationStore, layout: SchedulerLayout) async throws -> SchedulerView {
        var view = SchedulerView(layout: layout)
        for try await event in store.watch(layout.jobs, scope: .greatGrandchildren) {
            SchedulerView.split(event, layout: layout) { view.apply($1, to: $0) }
            break
        }
        for try await event in store.watch(layout.workers, scope: .children) {
            view.apply(event, to: .workers)
            break
        }
        return view
    }

    static func duties(_ store: any CoordinationStore, _ cluster: TestCluster) -> LeaderDuties {
        LeaderDuties(
            store: store, layout: cluster.layout, clock: cluster.clock, configuration: Worker.Configuration(),
            feed: ViewFeed { _, _ in }, logger: Logger(label: "test.leader"))
    }

    /// A recurring job's fire time was placed by the load of that job's own runs alone: every
    /// worker looked idle, and the first by name got the run though its only slot was taken.
    @Test(arguments: SchedulerBackend.all)
    func aFireTimeGoesToTheWorkerWithRoomNotTheFirstByName(backend: SchedulerBackend) async throws {
        let clock = ManualWallClock(Self.start)
        let cluster = try TestCluster(backend, clock: clock.wallClock)
        defer { Task { await cluster.shutdown() } }
        let (store, layout) = (try await cluster.open(), cluster.layout)
        let client = try await cluster.client()
        try await Self.register(["a", "b"], in: store, layout: layout)
        // Worker a runs another job's run.
        try await Self.occupy("a", with: "busy", startedAt: clock.now, client: client, store: store, layout: layout)
        try await client.submit(JobSpec(id: "ll", handler: "h", schedule: .every(.seconds(10), start: nil), placement: .leastLoaded))

        clock.advance(by: 10)
        var view = try await Self.view(of: store, layout: layout)
        var planner = PlacementState()
        _ = await Self.duties(store, cluster).materialiseDueFireTimes(view: &view, planner: &planner, stable: true)
        let runs = try await client.activeRuns(of: "ll")
        #expect(runs.count == 1)
        #expect(runs.first?.record.assignee == "b", "a has no free slot")
    }

    /// Runs placed in one round were all counted against the load from before the round: they
    /// all went to the same worker.
    @Test(arguments: SchedulerBackend.all)
    func runsPlacedInOneRoundSpreadOverTheWorkers(backend: SchedulerBackend) async throws {
        let cluster = try TestCluster(backend)
        defer { Task { await cluster.shutdown() } }
        let (store, layout) = (try await cluster.open(), cluster.layout)
        let client = try await cluster.client()
        try await Self.register(["a", "b"], in: store, layout: layout)
        try await client.submit([
            JobSpec(id: "p1", handler: "h", placement: .leastLoaded), JobSpec(id: "p2", handler: "h", placement: .leastLoaded),
        ])
        var view = try await Self.view(of: store, layout: layout)
        var planner = PlacementState()
        await Self.duties(store, cluster).planPendingRuns(view: &view, planner: &planner, stable: true)
        var assignees: [String?] = []
        for job in ["p1", "p2"] { assignees += try await client.activeRuns(of: job).map(\.record.assignee) }
        #expect(Set(assignees) == ["a", "b"], "one run each, not \(assignees)")
    }
}
