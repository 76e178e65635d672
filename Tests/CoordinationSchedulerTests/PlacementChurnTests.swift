import Coordination
import CoordinationRecipes
import CoordinationScheduler
import CoordinationTestSupport
import Foundation
import Testing

/// Planned placement while membership changes under it: the leader dies mid-plan, a worker
/// flaps within the stabilisation window, the only workers with a job's labels come and go,
/// and a worker joins after a broadcast fired. Real workers, real sessions, on every backend.
@Suite(.serverLoadLimit) struct PlacementChurnTests {
    static let start = Date(timeIntervalSince1970: 1_800_000_000)

    /// A handler that notes each start (`scheduledAt/item@worker`), then waits for `gate`
    /// (or for its run to be stopped).
    static func gated(_ gate: Signal, starts: Shared<[String]>) -> JobHandler {
        { context in
            let fire = Int(context.scheduledAt.timeIntervalSince1970)
            starts.withLock { $0.append("\(fire)/\(context.item)@\(context.worker)") }
            await gate.wait()
            return RunOutput()
        }
    }

    /// Waits (on a membership watch) until exactly `count` workers are live.
    static func waitForExactly(_ count: Int, in cluster: TestCluster) async throws {
        let membership = Membership(store: try await cluster.open(), group: cluster.layout.workers)
        try await withDeadline("exactly \(count) workers") {
            for try await members in membership.watch() where members.count == count { return }
        }
    }

    /// Each item assignment `job`'s state goes through from now on, in order, until `watcher`
    /// is cancelled.
    static func recordingPlans(of job: String, in cluster: TestCluster) -> (plans: Shared<[[Int: String]]>, watcher: Task<Void, Never>) {
        let plans = Shared<[[Int: String]]>([])
        let watcher = Task {
            _ = try? await cluster.waitForState(of: job, "every plan") { state in
                plans.withLock { if $0.last != state.itemAssignment { $0.append(state.itemAssignment) } }
                return false
            }
        }
        return (plans, watcher)
    }

    /// Each item of the fire time at `second` succeeded exactly once; returns who ran each.
    static func succeeded(_ history: [HistoryEntry], job: String, second: Int) -> [Int: [String]] {
        var ran: [Int: [String]] = [:]
        for entry in history where entry.job == job && entry.outcome == .succeeded
            && entry.scheduledAt == start.addingTimeInterval(Double(second))
        {
            ran[entry.item ?? -1, default: []].append(entry.worker ?? "?")
        }
        return ran
    }

    /// The leader's handle is closed while each worker runs one item and has another assigned,
    /// pending. The new leader's plan covers only live workers, the dead leader's pending item
    /// moves to its new assignee, its running item is taken over, and each item succeeds once.
    @Test(arguments: SchedulerBackend.all)
    func aLeaderKilledMidPlanLosesNoRunAndRunsNoneTwice(backend: SchedulerBackend) async throws {
        let clock = ManualWallClock(Self.start)
        let cluster = try TestCluster(backend, clock: clock.wallClock)
        defer { Task { await cluster.shutdown() } }
        let gate = Signal()
        let starts = Shared<[String]>([])
        var stores: [String: any CoordinationStore] = [:]
        let ids = ["w0", "w1", "w2"]
        for id in ids {
            stores[id] = try await cluster.startWorker(id, capacity: 1, handlers: ["item": Self.gated(gate, starts: starts)]).store
        }
        let client = try await cluster.client()
        try await cluster.waitForWorkers(3)
        try await client.submit(
            JobSpec(id: "sharded", handler: "item", schedule: .cron(try CronExpression("* * * * * *")), shards: 6, placement: .roundRobin,
                retry: RetryPolicy(maxRetries: 1)))
        clock.advance(by: 1)
        _ = try await cluster.waitForRuns(of: "sharded", "each worker running one item, one more pending") { runs in
            runs.count == 6 && Set(runs.filter { $0.status == .running }.compactMap(\.worker)).count == 3
                && Set(runs.filter { $0.status == .pending }.compactMap(\.assignee)).count == 3
        }

        let election = LeaderElection(store: try await cluster.open(), path: cluster.layout.leader, identity: "observer")
        let leader = try #require(try await election.currentLeader()?.identityString)
        let survivors = Set(ids).subtracting([leader])
        // Closed, not expired: a handle whose session expires starts a new one by itself, and
        // its worker joins again.
        let leaderStore = try #require(stores[leader])
        await leaderStore.close()
        try await withDeadline("a new leader") {
            for try await current in election.leaders() where current.map({ survivors.contains($0.identityString) }) == true { return }
        }
        let plan = try await cluster.waitForState(of: "sharded", "a plan without the dead leader") {
            $0.itemAssignment.count == 6 && Set($0.itemAssignment.values) == survivors
        }.itemAssignment
        #expect(plan.values.filter { $0 == survivors.min() }.count == 3, "balanced over the survivors: \(plan)")
        _ = try await cluster.waitForRuns(of: "sharded", "every pending item on its planned worker") { runs in
            runs.filter { $0.status == .pending }.allSatisfy { plan[$0.item] == $0.assignee }
        }
        gate.fire()
        let history = try await cluster.waitForHistory("the first fire time's six items") {
            Self.succeeded($0, job: "sharded", second: 1).count == 6
        }
        let first = Self.succeeded(history, job: "sharded", second: 1)
        #expect(first.values.allSatisfy { $0.count == 1 }, "each item succeeded once: \(first)")
        #expect(first.values.joined().allSatisfy(survivors.contains), "the dead leader recorded nothing: \(first)")

        clock.advance(by: 1)
        let after = try await cluster.waitForHistory("the second fire time's six items") {
            Self.succeeded($0, job: "sharded", second: 2).count == 6
        }
        let second = Self.succeeded(after, job: "sharded", second: 2)
        for item in 0..<6 { #expect(second[item] == plan[item].map { [$0] }, "item \(item) ran once, on its planned worker") }
    }

    /// A worker joining and leaving again and again within the stabilisation window moves no
    /// item; a fire time during it keeps the plan; once a worker stays, one rebalance of the
    /// fewest moves follows.
    @Test(arguments: SchedulerBackend.all)
    func aWorkerFlappingWithinTheWindowMovesNothing(backend: SchedulerBackend) async throws {
        let clock = ManualWallClock(Self.start)
        let cluster = try TestCluster(backend, clock: clock.wallClock)
        defer { Task { await cluster.shutdown() } }
        // Long enough that each join or leave comes before the window after the last one ends.
        let window = Duration.seconds(3)
        let starts = Shared<[String]>([])
        let handlers: [String: JobHandler] = [
            "item": { context in
                starts.withLock { $0.append("\(context.item)@\(context.worker)") }
                return RunOutput()
            }
        ]
        for id in ["w0", "w1"] { try await cluster.startWorker(id, stabilisation: window, handlers: handlers) }
        let client = try await cluster.client()
        try await cluster.waitForWorkers(2)
        try await client.submit(
            JobSpec(id: "sharded", handler: "item", schedule: .cron(try CronExpression("* * * * * *")), shards: 6, placement: .roundRobin))
        clock.advance(by: 1)
        _ = try await cluster.waitForHistory("the first fire time") { Self.succeeded($0, job: "sharded", second: 1).count == 6 }
        let before = try await cluster.waitForState(of: "sharded", "a plan over both workers") {
            Set($0.itemAssignment.values) == ["w0", "w1"]
        }.itemAssignment

        let (plans, watcher) = Self.recordingPlans(of: "sharded", in: cluster)
        defer { watcher.cancel() }
        for round in 0..<3 {
            try await cluster.startWorker("flapper", stabilisation: window, handlers: handlers)
            try await Self.waitForExactly(3, in: cluster)
            // A fire time while membership is unsettled: placed by the plan as it is.
            if round == 0 { clock.advance(by: 1) }
            try await cluster.stopWorker("flapper")
            try await Self.waitForExactly(2, in: cluster)
        }
        let history = try await cluster.waitForHistory("the second fire time") { Self.succeeded($0, job: "sharded", second: 2).count == 6 }
        let second = Self.succeeded(history, job: "sharded", second: 2)
        for item in 0..<6 { #expect(second[item] == before[item].map { [$0] }, "item \(item) ran once, on its planned worker") }

        try await cluster.startWorker("w2", stabilisation: window, handlers: handlers)
        let after = try await cluster.waitForState(of: "sharded", "the rebalance onto w2") {
            Set($0.itemAssignment.values) == ["w0", "w1", "w2"]
        }.itemAssignment
        #expect(BalancedAssignment.moves(from: before, to: after) == 2, "the fewest moves: \(before) to \(after)")
        let seen = plans.value.filter { $0 != before }
        #expect(seen.allSatisfy { $0 == after }, "no plan between the first and the last: \(seen)")
        #expect(!starts.value.contains { $0.hasSuffix("@flapper") }, "the flapper ran nothing")
    }

    /// A worker joins and the leader dies at once: the new leader cannot tell whether membership
    /// has settled, and moved items onto the newcomer at its first look, to move them back when
    /// the newcomer left within the window. It now waits the window out first.
    @Test(arguments: SchedulerBackend.all)
    func aNewLeaderWaitsOutTheWindowBeforeMovingItems(backend: SchedulerBackend) async throws {
        let clock = ManualWallClock(Self.start)
        let cluster = try TestCluster(backend, clock: clock.wallClock)
        defer { Task { await cluster.shutdown() } }
        let window = Duration.seconds(3)
        let handlers: [String: JobHandler] = ["item": { _ in RunOutput() }]
        let ids = ["w0", "w1", "w2"]
        var stores: [String: any CoordinationStore] = [:]
        for id in ids { stores[id] = try await cluster.startWorker(id, stabilisation: window, handlers: handlers).store }
        let client = try await cluster.client()
        try await cluster.waitForWorkers(3)
        try await client.submit(
            JobSpec(id: "sharded", handler: "item", schedule: .cron(try CronExpression("* * * * * *")), shards: 6, placement: .roundRobin))
        clock.advance(by: 1)
        _ = try await cluster.waitForHistory("the first fire time") { Self.succeeded($0, job: "sharded", second: 1).count == 6 }
        let before = try await cluster.waitForState(of: "sharded", "a plan over the three workers") {
            Set($0.itemAssignment.values) == Set(ids)
        }.itemAssignment
        let (plans, watcher) = Self.recordingPlans(of: "sharded", in: cluster)
        defer { watcher.cancel() }

        try await cluster.startWorker("newcomer", stabilisation: window, handlers: handlers)
        try await Self.waitForExactly(4, in: cluster)
        let election = LeaderElection(store: try await cluster.open(), path: cluster.layout.leader, identity: "observer")
        let leader = try #require(try await election.currentLeader()?.identityString)
        let survivors = Set(ids).subtracting([leader])
        let leaderStore = try #require(stores[leader])
        await leaderStore.close()
        try await withDeadline("a new leader") {
            for try await current in election.leaders() where current.map({ survivors.contains($0.identityString) }) == true { return }
        }
        try await cluster.stopWorker("newcomer")
        let after = try await cluster.waitForState(of: "sharded", "a plan over the survivors") {
            Set($0.itemAssignment.values) == survivors
        }.itemAssignment
        #expect(BalancedAssignment.moves(from: before, to: after) == 2, "only the dead leader's items moved: \(before) to \(after)")
        #expect(!plans.value.contains { $0.values.contains("newcomer") }, "no plan had the newcomer: \(plans.value)")
    }

    /// A planned job whose labels no live worker has waits, pending and unassigned, and runs on
    /// the first worker with them; when that worker's handle closes mid-run, the run goes to the other
    /// worker with the labels, never to the one without them.
    @Test(arguments: SchedulerBackend.all)
    func aPlannedJobWaitsForItsLabelsAndMovesOnlyToWorkersWithThem(backend: SchedulerBackend) async throws {
        let cluster = try TestCluster(backend)
        defer { Task { await cluster.shutdown() } }
        let gate = Signal()
        let starts = Shared<[String]>([])
        let handlers = ["work": Self.gated(gate, starts: starts)]
        try await cluster.startWorker("us", labels: ["zone": "us"], handlers: handlers)
        let client = try await cluster.client()
        try await cluster.waitForWorkers(1)
        try await client.submit(
            JobSpec(id: "eu-job", handler: "work", requiredLabels: ["zone": "eu"], placement: .roundRobin, retry: RetryPolicy(maxRetries: 1)))
        let waiting = try await client.activeRuns(of: "eu-job").map(\.record)
        #expect(waiting.map(\.status) == [.pending] && waiting.first?.assignee == nil, "waiting, not lost: \(waiting)")

        let eu1 = try await cluster.startWorker("eu1", labels: ["zone": "eu"], handlers: handlers).store
        _ = try await cluster.waitForRuns(of: "eu-job", "the run on eu1") { $0.first?.status == .running && $0.first?.worker == "eu1" }
        try await cluster.startWorker("eu2", labels: ["zone": "eu"], handlers: handlers)
        try await cluster.waitForWorkers(3)
        await eu1.close()
        _ = try await cluster.waitForRuns(of: "eu-job", "the run taken over by eu2") {
            $0.first?.status == .running && $0.first?.worker == "eu2"
        }
        gate.fire()
        let history = try await cluster.waitForHistory("the run's success") { successes("eu-job")($0) }
        #expect(history.filter { $0.outcome == .succeeded }.map(\.worker) == ["eu2"])
        #expect(!starts.value.contains { $0.hasSuffix("@us") }, "never on the worker without the labels: \(starts.value)")
    }

    /// A broadcast is for the workers live when it fires: a worker that joins while it is still
    /// running does not run it, and runs the next one.
    @Test(arguments: SchedulerBackend.all)
    func aWorkerJoiningAfterABroadcastFiredRunsTheNextOneOnly(backend: SchedulerBackend) async throws {
        let cluster = try TestCluster(backend)
        defer { Task { await cluster.shutdown() } }
        let gate = Signal()
        let starts = Shared<[String]>([])
        let handlers = ["all": Self.gated(gate, starts: starts)]
        for id in ["w0", "w1"] { try await cluster.startWorker(id, handlers: handlers) }
        let client = try await cluster.client()
        try await cluster.waitForWorkers(2)
        try await client.submit(JobSpec(id: "everyone", handler: "all", placement: .broadcast))
        _ = try await cluster.waitForRuns(of: "everyone", "both runs started") { runs in
            runs.count == 2 && runs.allSatisfy { $0.status == .running }
        }
        try await cluster.startWorker("late", handlers: handlers)
        try await cluster.waitForWorkers(3)
        gate.fire()
        _ = try await cluster.waitForHistory("the first broadcast") { successes("everyone", 2)($0) }
        let triggered = try await client.trigger("everyone")
        #expect(triggered.count == 3, "the next one is for all three: \(triggered)")
        let history = try await cluster.waitForHistory("the second broadcast") { successes("everyone", 5)($0) }
        let byWorker = Dictionary(grouping: history.filter { $0.outcome == .succeeded }, by: { $0.worker ?? "?" })
        #expect(byWorker.mapValues(\.count) == ["w0": 2, "w1": 2, "late": 1])
        #expect(byWorker["late"]?.first?.run.map(triggered.contains) == true, "late ran the trigger's run only")
    }
}
