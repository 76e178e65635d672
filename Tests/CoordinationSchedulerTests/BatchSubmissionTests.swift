import Coordination
import CoordinationScheduler
import CoordinationTestSupport
import Foundation
import Testing

@Suite(.serverLoadLimit) struct BatchSubmissionTests {
    /// More jobs than one transaction holds, a sharded one among them: every run exactly once.
    @Test(arguments: SchedulerBackend.all)
    func jobsSubmittedTogetherEachRunOnce(backend: SchedulerBackend) async throws {
        let cluster = try TestCluster(backend)
        defer { Task { await cluster.shutdown() } }
        let calls = Shared<[String: Int]>([:])
        for index in 0..<2 { try await cluster.startWorker("w\(index)", handlers: ["noop": countingHandler(calls)]) }
        let client = try await cluster.client()
        let singles = (0..<40).map { JobSpec(id: "job-\($0)", handler: "noop") }
        try await client.submit(singles + [JobSpec(id: "sharded", handler: "noop", shards: 3)])
        let expected = singles.count + 3
        let history = try await cluster.waitForHistory("\(expected) successes", limit: .seconds(60)) { entries in
            entries.filter { $0.outcome == .succeeded }.count >= expected
        }
        #expect(history.count == expected, "one history entry per run, nothing else")
        #expect(Set(history.map { "\($0.job)/\($0.run ?? "-")" }).count == expected, "no run succeeded twice")
        #expect(calls.value.values.allSatisfy { $0 == 1 } && calls.value.count == expected, "each handler call once")
        // Every job, whatever its bucket, sorted by id.
        #expect(try await client.jobs().map(\.spec.id) == (singles.map(\.id) + ["sharded"]).sorted())
    }

    /// A job that exists is named; the transactions before it are stored, the one holding it is
    /// not. Jobs go to transactions grouped by bucket, in their order within one.
    @Test(arguments: SchedulerBackend.all)
    func anExistingJobIsNamedAndStopsTheRest(backend: SchedulerBackend) async throws {
        let cluster = try TestCluster(backend)
        defer { Task { await cluster.shutdown() } }
        let client = try await cluster.client()
        try await client.submit(JobSpec(id: "taken", handler: "noop"))
        // 16 one-shot jobs (4 creations each: the job, its history folder, its incarnation key, its
        // run) fill a transaction.
        let perTransaction = CoordinationLimits.maxTransactionOperations / 4
        #expect(perTransaction == 16)
        let specs = (0..<30).map { JobSpec(id: "first-\($0)", handler: "noop") } + [JobSpec(id: "taken", handler: "noop")]
        let written = specs.enumerated().sorted {
            let (left, right) = (SchedulerLayout.bucket(of: $0.element.id), SchedulerLayout.bucket(of: $1.element.id))
            return left != right ? left < right : $0.offset < $1.offset
        }.map(\.element.id)
        let takenAt = try #require(written.firstIndex(of: "taken"))
        #expect(takenAt >= perTransaction, "a transaction before the one holding it")
        await #expect {
            try await client.submit(specs)
        } throws: { error in
            guard let error = error as? CoordinationError else { return false }
            return error.code == .nodeExists && error.message.contains("job taken already exists")
        }
        let stored = Set(try await client.jobs().map(\.spec.id))
        let before = written.prefix(takenAt / perTransaction * perTransaction)
        #expect(stored == Set(before + ["taken"]), "\(stored.sorted())")

        // An invalid job stores nothing, whatever its place in the list.
        await #expect {
            try await client.submit([JobSpec(id: "valid", handler: "noop"), JobSpec(id: "bad", handler: "noop", shards: 0)])
        } throws: { error in
            (error as? CoordinationError)?.code == .invalidConfiguration
        }
        #expect(try await client.job("valid") == nil)
    }

    /// What `coord job add --file` asks before writing, so that it can refuse a file whole.
    @Test func existingJobsAreFoundAmongMany() async throws {
        let cluster = try TestCluster(.memory)
        defer { Task { await cluster.shutdown() } }
        let client = try await cluster.client()
        #expect(try await client.existingJobs(among: ["a", "b"]) == [], "no job yet, not even the scheduler's folders")
        try await client.submit([JobSpec(id: "b", handler: "noop"), JobSpec(id: "d", handler: "noop", schedule: .every(.seconds(60), start: nil))])
        let ids = ["a", "b", "c", "d"] + (0..<40).map { "free-\($0)" }
        #expect(try await client.existingJobs(among: ids) == ["b", "d"], "in the order asked, recurring and one-shot alike")
        try await client.remove("b")
        #expect(try await client.existingJobs(among: ids) == ["d"])
    }
}
