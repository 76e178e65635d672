import Coordination
import CoordinationMemory
import CoordinationScheduler
import Foundation
import Testing

@Suite struct ValidationTests {
    static let cases: [(JobSpec, String)] = [
        (JobSpec(id: "a/b", handler: "h"), "id is not a valid key segment"),
        (JobSpec(id: "j", handler: ""), "handler name is empty"),
        (JobSpec(id: "j", handler: "h", shards: 0), "shards must be between 1 and 61, got 0"),
        (JobSpec(id: "j", handler: "h", shards: 62), "shards must be between 1 and 61, got 62"),
        (JobSpec(id: "j", handler: "h", shards: 2, shardParameters: ["a", "b", "c"]), "3 shard parameters given for 2 shards"),
        (JobSpec(id: "j", handler: "h", timeout: .zero), "timeout must be positive"),
        (JobSpec(id: "j", handler: "h", retry: RetryPolicy(maxRetries: -1)), "retries must not be negative"),
        (JobSpec(id: "j", handler: "h", retry: RetryPolicy(maxRetries: .max)), "retries must be at most 1000000, got \(Int.max)"),
        (JobSpec(id: "j", handler: "h", retry: RetryPolicy(maxRetries: 1_000_001)), "retries must be at most 1000000, got 1000001"),
        (JobSpec(id: "j", handler: "h", schedule: .every(.milliseconds(1), start: nil)), "fixed rate interval must be at least 10ms"),
        (JobSpec(id: "j", handler: "h", shards: 2, placement: .broadcast), "a broadcast job cannot also be sharded"),
        (JobSpec(id: "j", handler: "h", schedule: .cron(try! CronExpression("0 0 0 31 2 *"))), "cron expression '0 0 0 31 2 *' never fires"),
        (JobSpec(id: "j", handler: "h", schedule: .cron(try! CronExpression("0 0 0 31 APR,JUN *"))), "never fires"),
        // A jobs file's "requiredLabels" is taken as written: " disk" matched no worker's "disk".
        (JobSpec(id: "j", handler: "h", requiredLabels: [" disk": "ssd"]), "required label ' disk=ssd' has white space around"),
        (JobSpec(id: "j", handler: "h", requiredLabels: ["zone": "eu "]), "write it without ('zone=eu')"),
    ]

    /// A worker's labels follow the same rule as a job's, wherever they come from.
    @Test func aWorkerLabelWithWhiteSpaceAroundIsRefused() async throws {
        let store = try await MemoryServer().connect()
        #expect {
            _ = try Worker(store: store, id: "w", configuration: Worker.Configuration(labels: ["disk ": "ssd"]), handlers: [:])
        } throws: { error in
            (error as? CoordinationError)?.message.contains("worker label 'disk =ssd' has white space around") == true
        }
        await store.close()
    }

    @Test(arguments: cases)
    func invalidJobsAreRefusedWithTheProblemNamed(spec: JobSpec, problem: String) {
        #expect {
            try spec.validate()
        } throws: { error in
            guard let error = error as? CoordinationError else { return false }
            return error.code == .invalidConfiguration && error.message.contains(problem)
        }
    }

    /// February 29 is the rarest date a cron expression can name: 8 years apart across 2100.
    @Test func aCronExpressionThatFiresRarelyIsAccepted() throws {
        let leapDay = JobSpec(id: "j", handler: "h", schedule: .cron(try CronExpression("0 0 0 29 2 *")))
        try leapDay.validate()
        try leapDay.validate(now: Date(timeIntervalSince1970: 4_012_934_400))  // 2097-03-01, next 2104-02-29
        // Either day field matching is enough (Vixie cron): the 31st of February or any Monday.
        try JobSpec(id: "j", handler: "h", schedule: .cron(try CronExpression("0 0 0 31 2 MON"))).validate()
    }

    /// The scheduler refuses it on submission, so a library user cannot store it either.
    @Test func submittingACronExpressionThatNeverFiresStoresNothing() async throws {
        let cluster = try TestCluster(.memory)
        defer { Task { await cluster.shutdown() } }
        let client = try await cluster.client()
        let feb31 = JobSpec(id: "feb", handler: "h", schedule: .cron(try CronExpression("0 0 0 31 2 *")))
        for submit in [{ try await client.submit(feb31) }, { try await client.submit([feb31]) }] as [() async throws -> Void] {
            await #expect {
                try await submit()
            } throws: { error in
                let error = error as? CoordinationError
                return error?.code == .invalidConfiguration && error?.message.hasPrefix("job feb: cron expression '0 0 0 31 2 *' never fires") == true
            }
        }
        #expect(try await client.job("feb") == nil)
    }

    @Test func aBadCronExpressionOrStrategyIsNamed() throws {
        #expect(throws: CoordinationError.self) { try CronExpression("61 * * * * *") }
        #expect {
            try PlacementStrategy(parsing: "fastest")
        } throws: { error in
            (error as? CoordinationError)?.message.contains("unknown placement strategy 'fastest'") == true
        }
        #expect(try PlacementStrategy(parsing: "consistentHash") == .consistentHash)
    }

    @Test func jobsRoundTripThroughJSON() throws {
        let spec = JobSpec(
            id: "j", handler: "h", payload: Data([0, 1, 2]), schedule: .cron(try CronExpression("*/5 * * * * *")), shards: 3,
            shardParameters: ["a"], priority: 7, requiredLabels: ["zone": "eu"], placement: .weighted,
            timeout: .seconds(3), retry: RetryPolicy(maxRetries: 2), misfire: .skip, overlap: .replace)
        let data = try JSONEncoder().encode(spec)
        #expect(try JSONDecoder().decode(JobSpec.self, from: data) == spec)
        let text = String(decoding: data, as: UTF8.self)
        #expect(text.contains("AAEC"), "payload is base64")
        #expect(text.contains(#""timeoutMs":3000"#), "durations are milliseconds")
        #expect(text.contains(#""kind":"cron""#))
        #expect(text.contains(#""backoffBaseMs":1000"#))
        let every = JobSpec(id: "e", handler: "h", schedule: .every(.milliseconds(1500), start: nil))
        #expect(try JSONDecoder().decode(JobSpec.self, from: try JSONEncoder().encode(every)) == every)
        let minimal = try JSONDecoder().decode(JobSpec.self, from: Data(#"{"id":"m","handler":"h"}"#.utf8))
        #expect(minimal == JobSpec(id: "m", handler: "h"), "everything but id and handler has a default")
        let sorted = JSONEncoder()
        sorted.outputFormatting = .sortedKeys
        sorted.dateEncodingStrategy = .millisecondsSince1970
        let decoder = JSONDecoder()
        decoder.dateDecodingStrategy = .millisecondsSince1970
        #expect(
            String(decoding: try sorted.encode(minimal), as: UTF8.self) == #"{"handler":"h","id":"m","schedule":{"kind":"once"}}"#,
            "fields at their defaults are left out")
        let fresh = JobState(submittedAt: Date(timeIntervalSince1970: 2))
        let freshText = String(decoding: try sorted.encode(fresh), as: UTF8.self)
        #expect(freshText == #"{"submittedAt":2000}"#)
        #expect(try decoder.decode(JobState.self, from: Data(freshText.utf8)) == fresh)
        let paused = JobState(paused: true, triggers: 3, submittedAt: Date(timeIntervalSince1970: 2), incarnation: "k3x9qa")
        #expect(try decoder.decode(JobState.self, from: try sorted.encode(paused)) == paused)
        let start = Date(timeIntervalSince1970: 3)
        let pending = RunRecord(job: "j", run: "r", item: 0, itemCount: 1, itemParameter: nil, scheduledAt: start, notBefore: start)
        let pendingText = String(decoding: try sorted.encode(pending), as: UTF8.self)
        #expect(pendingText == #"{"job":"j","run":"r","scheduledAt":3000,"status":"pending"}"#, "a run leaves its defaults out")
        #expect(try decoder.decode(RunRecord.self, from: Data(pendingText.utf8)) == pending)
        var retried = RunRecord(
            job: "j", run: "r", item: 2, itemCount: 8, itemParameter: "p", scheduledAt: start, notBefore: start.addingTimeInterval(5),
            attempt: 3, status: .running, worker: "w", startedAt: start, assignee: "a", cancelRequested: true, progress: "half")
        retried.claimVersion = 4
        #expect(try decoder.decode(RunRecord.self, from: try sorted.encode(retried)) == retried, "every field round-trips")
        let written = #"{"attempt":1,"cancelRequested":false,"item":0,"itemCount":1,"job":"j","notBefore":3000,"run":"r","scheduledAt":3000,"status":"pending"}"#
        #expect(try decoder.decode(RunRecord.self, from: Data(written.utf8)) == pending, "records with every field written still read")
        let state = JobState(submittedAt: Date(timeIntervalSince1970: 1), itemAssignment: [0: "a", 7: "b"])
        let stateText = String(decoding: try JSONEncoder().encode(state), as: UTF8.self)
        #expect(stateText.contains(#""7":"b""#))
        #expect(try JSONDecoder().decode(JobState.self, from: Data(stateText.utf8)) == state)
    }

    @Test func runIdsSortByFireTimeThenItem() {
        let early = RunID.scheduled(at: Date(timeIntervalSince1970: 9), item: 12)
        let late = RunID.scheduled(at: Date(timeIntervalSince1970: 10), item: 3)
        #expect(early == "r-0000000000009000-012")
        #expect(early < late)
        #expect(RunID.scheduled(at: Date(timeIntervalSince1970: 10), item: 0, worker: "w1") == "r-0000000000010000-000-w1")
        // The incarnation follows the item, which one job's runs all share: they still sort the same.
        let tagged = [(9.0, 12), (10, 3), (10, 4)].map { RunID.scheduled(at: Date(timeIntervalSince1970: $0), item: $1, incarnation: "zz0000") }
        #expect(tagged == tagged.sorted())
        #expect(tagged[0] == "r-0000000000009000-012-zz0000")
        #expect(RunID.triggered(number: 2, item: 1, incarnation: "k3x9qa", worker: "w1") == "t-0000000002-001-k3x9qa-w1")
    }
}
