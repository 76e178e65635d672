import Coordination
import CoordinationTestSupport
import CoordinationScheduler
import Foundation
import Testing

@Suite(.serverLoadLimit) struct PlannedPlacementTests {
    /// Records which worker ran which item.
    static func recorder(_ ran: Shared<[Int: [String]]>) -> JobHandler {
        { context in
            ran.withLock { $0[context.item, default: []].append(context.worker) }
            return RunOutput()
        }
    }

    @Test(arguments: SchedulerBackend.all)
    func consistentHashPlacesEachItemOnItsRingOwner(backend: SchedulerBackend) async throws {
        let cluster = try TestCluster(backend)
        defer { Task { await cluster.shutdown() } }
        let ran = Shared<[Int: [String]]>([:])
        let workers = ["w0", "w1", "w2"]
        for id in workers { try await cluster.startWorker(id, handlers: ["item": Self.recorder(ran)]) }
        let client = try await cluster.client()
        try await cluster.waitForWorkers(3)
        try await client.submit(JobSpec(id: "hashed", handler: "item", shards: 8, placement: .consistentHash))
        _ = try await cluster.waitForHistory("8 items") { $0.filter { $0.outcome == .succeeded }.count == 8 }
        let ring = HashRing(nodes: workers)
        for item in 0..<8 {
            #expect(ran.value[item] == [ring.owner(of: "hashed/\(item)")!], "item \(item) ran once, on its ring owner")
        }
    }

    @Test(arguments: SchedulerBackend.all)
    func broadcastRunsOnEveryEligibleWorker(backend: SchedulerBackend) async throws {
        let cluster = try TestCluster(backend)
        defer { Task { await cluster.shutdown() } }
        let ran = Shared<[Int: [String]]>([:])
        for id in ["w0", "w1", "w2"] { try await cluster.startWorker(id, handlers: ["all": Self.recorder(ran)]) }
        try await cluster.startWorker("other", handlers: ["unrelated": Self.recorder(ran)])
        let client = try await cluster.client()
        try await cluster.waitForWorkers(4)
        try await client.submit(JobSpec(id: "everyone", handler: "all", placement: .broadcast))
        let history = try await cluster.waitForHistory("3 runs") { $0.filter { $0.outcome == .succeeded }.count == 3 }
        #expect(ran.value[0]?.sorted() == ["w0", "w1", "w2"], "each eligible worker ran it once")
        #expect(Set(history.compactMap(\.run)).count == 3)
        #expect(history.allSatisfy { $0.run?.hasSuffix("-\($0.worker ?? "?")") == true }, "run ids name the worker")
    }

    /// A recurring broadcast's fire time with no live worker able to run it runs nowhere, and the
    /// history says so: it said nothing, and a job that never ran could not be told from one
    /// whose leader never woke.
    @Test(arguments: SchedulerBackend.all)
    func aBroadcastFireTimeWithNoAbleWorkerIsRecordedAsSkipped(backend: SchedulerBackend) async throws {
        let start = Date(timeIntervalSince1970: 1_800_000_000)
        let clock = ManualWallClock(start)
        let cluster = try TestCluster(backend, clock: clock.wallClock)
        defer { Task { await cluster.shutdown() } }
        let ran = Shared<[Int: [String]]>([:])
        try await cluster.startWorker("other", handlers: ["unrelated": Self.recorder(ran)])
        let client = try await cluster.client()
        try await client.submit(
            JobSpec(id: "everyone", handler: "all", schedule: .every(.seconds(10), start: nil), placement: .broadcast))
        clock.advance(by: 10)
        let history = try await cluster.waitForHistory("the fire time's entry") { $0.contains { $0.job == "everyone" } }
        #expect(history.map(\.outcome) == [.skipped])
        #expect(history.first?.scheduledAt == start.addingTimeInterval(10))
        #expect(history.first?.run == nil)
        #expect(
            history.first?.message
                == "no live worker able to run it (handler 'all' and the job's labels): a broadcast runs on the workers able to run it at its fire time")
        #expect(try await client.activeRuns(of: "everyone").isEmpty)
        #expect(ran.value.isEmpty)
    }

    @Test(arguments: SchedulerBackend.all)
    func aFourthWorkerTakesOverTheMinimumOfAShardedJobsItems(backend: SchedulerBackend) async throws {
        let clock = ManualWallClock(Date(timeIntervalSince1970: 1_800_000_000))
        let cluster = try TestCluster(backend, clock: clock.wallClock)
        defer { Task { await cluster.shutdown() } }
        let ran = Shared<[Int: [String]]>([:])
        for id in ["w0", "w1", "w2"] { try await cluster.startWorker(id, handlers: ["item": Self.recorder(ran)]) }
        let client = try await cluster.client()
        try await cluster.waitForWorkers(3)
        try await client.submit(
            JobSpec(id: "sharded", handler: "item", schedule: .cron(try CronExpression("* * * * * *")), shards: 8, placement: .roundRobin))
        clock.advance(by: 1)
        _ = try await cluster.waitForHistory("the first fire time") { $0.filter { $0.outcome == .succeeded }.count == 8 }
        let before = try #require(try await client.job("sharded")?.state.itemAssignment)
        #expect(Set(before.values).count == 3)
        #expect(ran.value.values.allSatisfy { $0.count == 1 }, "every item claimed exactly once")
        for item in 0..<8 { #expect(ran.value[item] == before[item].map { [$0] }, "item \(item) ran on its assignee") }

        try await cluster.startWorker("w3", handlers: ["item": Self.recorder(ran)])
        let after = try await cluster.waitForState(of: "sharded", "the rebalance") { Set($0.itemAssignment.values).count == 4 }
            .itemAssignment
        #expect(BalancedAssignment.moves(from: before, to: after) == 2, "the minimal number of moves")
        #expect(after.values.filter { $0 == "w3" }.count == 2)
        clock.advance(by: 1)
        _ = try await cluster.waitForHistory("the second fire time") { $0.filter { $0.outcome == .succeeded }.count == 16 }
        for item in 0..<8 { #expect(ran.value[item]?.last == after[item], "item \(item) ran on its new assignee") }
    }

    @Test(arguments: SchedulerBackend.all)
    func aDuplicateWorkerIdStopsTheSecondWorker(backend: SchedulerBackend) async throws {
        let cluster = try TestCluster(backend)
        defer { Task { await cluster.shutdown() } }
        try await cluster.startWorker("same", handlers: [:])
        let client = try await cluster.client()
        try await cluster.waitForWorkers(1)
        #expect(try await client.workers().map(\.id) == ["same"])
        let second = try Worker(store: try await cluster.open(), id: "same", handlers: [:])
        await #expect(throws: CoordinationError.self) {
            try await withDeadline("the second worker to fail") { try await second.run() }
        }
    }
}

@Suite(.serverLoadLimit) struct EligibilityTests {
    @Test(arguments: SchedulerBackend.all)
    func onlyWorkersWithTheHandlerAndLabelsClaimAndHigherPriorityGoesFirst(backend: SchedulerBackend) async throws {
        let cluster = try TestCluster(backend)
        defer { Task { await cluster.shutdown() } }
        let order = Shared<[String]>([])
        let record: JobHandler = { context in
            order.withLock { $0.append("\(context.worker):\(context.job)") }
            return RunOutput()
        }
        let client = try await cluster.client()
        // Submitted before any worker exists, so that the single-slot worker sees them all at once.
        try await client.submit(JobSpec(id: "low", handler: "work", priority: 1))
        try await client.submit(JobSpec(id: "high", handler: "work", priority: 9))
        try await client.submit(JobSpec(id: "eu-only", handler: "work", requiredLabels: ["zone": "eu"]))
        try await client.submit(JobSpec(id: "other-handler", handler: "elsewhere"))
        let store = try await cluster.open()
        let worker = try Worker(
            store: store, layout: cluster.layout, id: "us", configuration: Worker.Configuration(capacity: 1, labels: ["zone": "us"]),
            handlers: ["work": record])
        let task = Task { try await worker.run() }
        defer { task.cancel() }
        _ = try await cluster.waitForHistory("the two jobs it may run") { $0.count == 2 }
        #expect(order.value == ["us:high", "us:low"], "higher priority first; never the eu-only or other-handler job")
        let euStore = try await cluster.open()
        let eu = try Worker(
            store: euStore, layout: cluster.layout, id: "eu", configuration: Worker.Configuration(labels: ["zone": "eu"]),
            handlers: ["work": record])
        let euTask = Task { try await eu.run() }
        defer { euTask.cancel() }
        let history = try await cluster.waitForHistory("the eu-only job") { $0.count == 3 }
        #expect(history.first { $0.job == "eu-only" }?.worker == "eu")
        #expect(try await client.activeRuns(of: "other-handler").map(\.record.status) == [.pending])
    }
}

@Suite(.serverLoadLimit) struct LargeBroadcastTests {
    @Test(arguments: SchedulerBackend.all)
    func aBroadcastToMoreWorkersThanOneTransactionHoldsCreatesEveryRun(backend: SchedulerBackend) async throws {
        let cluster = try TestCluster(backend)
        defer { Task { await cluster.shutdown() } }
        // 130 registered workers (membership entries only: nobody runs anything here).
        let members = try await cluster.open()
        let info = try JSONEncoder().encode(WorkerInfo(capacity: 1, weight: 1, labels: [:], handlers: ["all"]))
        for index in 0..<130 {
            _ = try await members.create(try cluster.layout.worker("w\(index)"), value: Array(info), mode: .ephemeral)
        }
        let client = try await cluster.client()
        try await client.submit(JobSpec(id: "everyone", handler: "all", placement: .broadcast))
        #expect(try await client.activeRuns(of: "everyone").count == 130)
        #expect(try await client.trigger("everyone").count == 130)
        #expect(try await client.activeRuns(of: "everyone").count == 260)
    }
}
