import Coordination
import CoordinationScheduler
import Foundation
import CoordinationTestSupport
import Testing

@Suite(.serverLoadLimit) struct ExactlyOnceTests {
    @Test(arguments: SchedulerBackend.all)
    func everyOneShotJobRunsExactlyOnceAcrossFourWorkers(backend: SchedulerBackend) async throws {
        let cluster = try TestCluster(backend)
        defer { Task { await cluster.shutdown() } }
        let calls = Shared<[String: Int]>([:])
        let layout = cluster.layout
        var sights: [MembershipSightStore] = []
        for index in 0..<4 {
            let sight = Shared<MembershipSightStore?>(nil)
            try await cluster.startWorker("w\(index)", capacity: 4, handlers: ["noop": countingHandler(calls)]) { base in
                let store = MembershipSightStore(base, members: layout.workers, expected: 4)
                sight.withLock { $0 = store }
                return store
            }
            sights.append(try #require(sight.value))
        }
        // A worker claims nothing until its view shows it joined (``Worker``'s claiming loop):
        // jobs submitted while the others were still joining could all go to one worker, and did
        // once on etcd under load. Each worker's view is to show all four before any job comes.
        for (index, sight) in sights.enumerated() {
            try await withDeadline("worker w\(index) to see all four workers") { await sight.sawAll.wait() }
        }
        let client = try await cluster.client()
        let jobs = 200
        try await withThrowingTaskGroup(of: Void.self) { group in
            for chunk in 0..<4 {
                group.addTask {
                    for index in stride(from: chunk, to: jobs, by: 4) {
                        try await client.submit(JobSpec(id: "job-\(index)", handler: "noop"))
                    }
                }
            }
            try await group.waitForAll()
        }
        let history = try await cluster.waitForHistory("\(jobs) successes", limit: .seconds(60)) { entries in
            entries.filter { $0.outcome == .succeeded }.count >= jobs
        }
        #expect(history.count == jobs, "one history entry per job, nothing else")
        #expect(Set(history.map(\.job)).count == jobs, "no job succeeded twice")
        #expect(calls.value.count == jobs && calls.value.values.allSatisfy { $0 == 1 }, "each handler call once")
        #expect(Set(history.compactMap(\.worker)).count > 1, "the work was shared")
        for job in ["job-0", "job-199"] {
            #expect(try await client.activeRuns(of: job).isEmpty)
        }
    }

    @Test(arguments: SchedulerBackend.all)
    func eachItemOfAShardedJobRunsOnce(backend: SchedulerBackend) async throws {
        let cluster = try TestCluster(backend)
        defer { Task { await cluster.shutdown() } }
        let items = Shared<[Int: Int]>([:])
        let parameters = Shared<[Int: String]>([:])
        let handler: JobHandler = { context in
            items.withLock { $0[context.item, default: 0] += 1 }
            parameters.withLock { $0[context.item] = context.itemParameter }
            #expect(context.itemCount == 8)
            return RunOutput()
        }
        for index in 0..<3 { try await cluster.startWorker("w\(index)", capacity: 2, handlers: ["shard": handler]) }
        let client = try await cluster.client()
        try await client.submit(
            JobSpec(id: "sharded", handler: "shard", shards: 8, shardParameters: (0..<8).map { "p\($0)" }))
        let history = try await cluster.waitForHistory("8 items") { $0.filter { $0.outcome == .succeeded }.count >= 8 }
        #expect(history.compactMap(\.item).sorted() == Array(0..<8))
        #expect(items.value == Dictionary(uniqueKeysWithValues: (0..<8).map { ($0, 1) }))
        #expect(parameters.value[5] == "p5")
    }
}
