import Coordination
import CoordinationTestSupport
import Foundation
import Logging
import Synchronization
import Testing

@testable import CoordinationScheduler

/// A broadcast to more workers than one transaction holds: the runs past the first transaction
/// follow in transactions of their own, and whoever writes them may stop before the last.
@Suite(.serverLoadLimit) struct BroadcastRemainderTests {
    static let start = Date(timeIntervalSince1970: 1_800_000_000)

    /// Lets the first `transactions` transactions through, then refuses every one (no server answers).
    final class CutOffAfter: ForwardingStore {
        let base: any CoordinationStore
        private let left: Mutex<Int>

        init(_ base: any CoordinationStore, transactions: Int) {
            self.base = base
            left = Mutex(transactions)
        }

        func transaction(_ operations: [Coordination.Operation]) async throws -> [OperationResult] {
            let passes = left.withLock { left in
                guard left > 0 else { return false }
                left -= 1
                return true
            }
            guard passes else { throw CoordinationError(.unavailable, "cut off (simulated)") }
            return try await base.transaction(operations)
        }
    }

    /// Registers 130 workers (membership entries only: nobody runs anything of theirs here), more
    /// than one transaction's worth of runs; returns them.
    @discardableResult
    private static func registerWorkers(in store: any CoordinationStore, layout: SchedulerLayout) async throws -> [String: WorkerInfo] {
        let info = WorkerInfo(capacity: 1, weight: 1, labels: [:], handlers: ["all"])
        let value = Array(try JSONEncoder().encode(info))
        var workers: [String: WorkerInfo] = [:]
        for index in 0..<130 {
            let id = "w" + RunID.padded(Int64(index), 3)
            workers[id] = info
            _ = try await store.create(try layout.worker(id), value: value, mode: .ephemeral)
        }
        return workers
    }

    /// The leader recorded a fire time with the first 61 runs, and was cut off before the rest
    /// (a crash, a lost session, the store unreachable): the fire time counted as materialised,
    /// so no leader ever created the other 68 workers' runs.
    @Test(arguments: SchedulerBackend.all)
    func aBroadcastFireTimeCutShortIsCompletedByTheNextLeader(backend: SchedulerBackend) async throws {
        let clock = ManualWallClock(Self.start)
        let cluster = try TestCluster(backend, clock: clock.wallClock)
        defer { Task { await cluster.shutdown() } }
        let (store, layout) = (try await cluster.open(), cluster.layout)
        let workers = try await Self.registerWorkers(in: store, layout: layout)
        let client = try await cluster.client()
        try await client.submit(JobSpec(id: "everyone", handler: "all", schedule: .every(.seconds(10), start: nil), placement: .broadcast))
        let submitted = try #require(try await store.get(try layout.job("everyone")))
        let job = try submitted.decoded(JobRecord.self)

        clock.advance(by: 10)
        let fire = Self.start.addingTimeInterval(10)
        let cutOff = LeaderDuties(
            store: CutOffAfter(store, transactions: 1), layout: layout, clock: clock.wallClock,
            configuration: Worker.Configuration(), feed: ViewFeed { _, _ in }, logger: Logger(label: "test.leader"))
        var planner = PlacementState()
        await #expect(throws: CoordinationError.self) {
            try await cutOff.materialise(
                spec: job.spec, state: job.state, version: submitted.version, latest: fire, total: 1, now: clock.now,
                active: [], workers: workers, stable: true, planner: &planner)
        }
        #expect(try await client.activeRuns(of: "everyone").count == RunPlan.firstChunk(fenced: true))

        // The next leader (a worker of its own, whose id sorts before the others') finishes the fire time.
        try await cluster.startWorker("leader", handlers: ["other": { _ in RunOutput() }])
        let runs = try await cluster.waitForRuns(of: "everyone", "every worker's run") { $0.count >= 130 }
        #expect(Set(runs.compactMap(\.assignee)) == Set(workers.keys), "each of the 130 workers once")
        #expect(runs.allSatisfy { $0.scheduledAt == fire })
    }

    /// The same for `coord job trigger`: the client stopped after its first transaction.
    @Test(arguments: SchedulerBackend.all)
    func aTriggerCutShortIsCompletedByTheLeader(backend: SchedulerBackend) async throws {
        let cluster = try TestCluster(backend)
        defer { Task { await cluster.shutdown() } }
        let client = try await Self.triggerCutShort(in: cluster)
        #expect(try await client.activeRuns(of: "everyone").count == RunPlan.firstChunk(fenced: true))

        try await cluster.startWorker("leader", handlers: ["other": { _ in RunOutput() }])
        let runs = try await cluster.waitForRuns(of: "everyone", "every worker's run") { $0.count >= 130 }
        #expect(runs.count == 130)
        #expect(Set(runs.map(\.run)).count == 130)
        #expect(runs.allSatisfy { $0.run.hasPrefix("t-0000000001-000-") })
    }

    /// 130 members, a broadcast job, and a trigger of it whose client stopped after its first
    /// transaction (the first chunk of runs); returns a client.
    private static func triggerCutShort(in cluster: TestCluster) async throws -> Scheduler {
        let (store, layout) = (try await cluster.open(), cluster.layout)
        try await registerWorkers(in: store, layout: layout)
        let client = try await cluster.client()
        try await client.submit(
            JobSpec(id: "everyone", handler: "all", schedule: .cron(try CronExpression("0 0 0 1 1 *")), placement: .broadcast))
        let cutOff = Scheduler(store: CutOffAfter(store, transactions: 1), layout: layout)
        await #expect(throws: CoordinationError.self) { try await cutOff.trigger("everyone") }
        return client
    }

    /// A trigger cut short, then the job cancelled: the cancel removed the 61 runs there were,
    /// and the leader then created the other 68 workers' runs of the trigger it had cancelled.
    @Test(arguments: SchedulerBackend.all)
    func aCancelledTriggerCutShortGetsNoMoreRuns(backend: SchedulerBackend) async throws {
        let cluster = try TestCluster(backend)
        defer { Task { await cluster.shutdown() } }
        let client = try await Self.triggerCutShort(in: cluster)
        #expect(try await client.cancel("everyone").removed.count == RunPlan.firstChunk(fenced: true))
        #expect(try await client.job("everyone")?.state.unfinishedBroadcasts == [], "the cancelled trigger is over")

        // A leader, with a job of its own that it places (round-robin) after finishing broadcasts
        // in the same pass: once that has run, a pass has looked at the cancelled trigger.
        try await cluster.startWorker("leader", handlers: ["other": { _ in RunOutput() }])
        try await client.submit(JobSpec(id: "marker", handler: "other", placement: .roundRobin))
        _ = try await cluster.waitForHistory("the marker job") { successes("marker")($0) }
        #expect(try await client.activeRuns(of: "everyone").isEmpty, "no run of the cancelled trigger")
    }

    /// A broadcast fire time cut short, then replaced by the next (overlap `replace`): the
    /// leader cancelled the runs there were, then created the other 68 workers' runs of the
    /// fire time it had just replaced, which ran before the new one's.
    @Test(arguments: SchedulerBackend.all)
    func aReplacedBroadcastCutShortGetsNoMoreRuns(backend: SchedulerBackend) async throws {
        let clock = ManualWallClock(Self.start)
        let cluster = try TestCluster(backend, clock: clock.wallClock)
        defer { Task { await cluster.shutdown() } }
        let (store, layout) = (try await cluster.open(), cluster.layout)
        let workers = try await Self.registerWorkers(in: store, layout: layout)
        let client = try await cluster.client()
        try await client.submit(
            JobSpec(
                id: "everyone", handler: "all", schedule: .every(.seconds(10), start: nil), placement: .broadcast, overlap: .replace))
        func leader(_ store: any CoordinationStore) -> LeaderDuties {
            LeaderDuties(
                store: store, layout: layout, clock: clock.wallClock, configuration: Worker.Configuration(),
                feed: ViewFeed { _, _ in }, logger: Logger(label: "test.leader"))
        }
        func stored() async throws -> (JobRecord, Int64) {
            let record = try #require(try await store.get(try layout.job("everyone")))
            return (try record.decoded(JobRecord.self), record.version)
        }
        var planner = PlacementState()

        clock.advance(by: 10)
        let (submitted, version) = try await stored()
        await #expect(throws: CoordinationError.self) {
            try await leader(CutOffAfter(store, transactions: 1)).materialise(
                spec: submitted.spec, state: submitted.state, version: version, latest: Self.start.addingTimeInterval(10), total: 1,
                now: clock.now, active: [], workers: workers, stable: true, planner: &planner)
        }

        clock.advance(by: 10)
        let next = Self.start.addingTimeInterval(20)
        let (cutShort, cutVersion) = try await stored()
        let folder = try layout.runs(of: "everyone")
        var active: [ViewRun] = []
        for name in try await store.children(of: folder) {
            let record = try #require(try await store.get(try folder.child(name)))
            active.append(
                ViewRun(key: record.key, record: try record.decoded(RunRecord.self), version: record.version, modRevision: record.modRevision))
        }
        #expect(active.count == RunPlan.firstChunk(fenced: true))
        try await leader(store).materialise(
            spec: cutShort.spec, state: cutShort.state, version: cutVersion, latest: next, total: 1, now: clock.now, active: active,
            workers: workers, stable: true, planner: &planner)
        let runs = try await client.activeRuns(of: "everyone").map(\.record)
        #expect(runs.filter { $0.scheduledAt != next }.count == 0, "no run of the replaced fire time")
        #expect(runs.count == 130, "each worker's run of the new one")
        #expect(try await stored().0.state.unfinishedBroadcasts == [])
    }
}
