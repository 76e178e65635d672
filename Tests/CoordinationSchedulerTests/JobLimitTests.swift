import Coordination
import CoordinationMemory
import CoordinationScheduler
import CoordinationTestSupport
import Foundation
import Testing

/// What a job may be so that every key and record the scheduler will write for it fits the
/// store's limits: refused when it is submitted, not when a worker claims its first run.
@Suite(.serverLoadLimit) struct JobLimitTests {
    /// The longest id under the default root: a claim `/scheduler/jobs/<b>/<id>/<29-byte run id>/claim`
    /// (the run id with its job's 6-character incarnation tag) is 55 bytes besides the id, within
    /// the 1024-byte key limit.
    static let longestID = 969

    /// The message `spec.validate(layout:)` refuses it with; `nil` when it is accepted.
    static func refusal(_ spec: JobSpec, layout: SchedulerLayout = SchedulerLayout()) -> String? {
        do {
            try spec.validate(layout: layout)
            return nil
        } catch {
            #expect(error.code == .invalidConfiguration)
            return error.message
        }
    }

    @Test func anIdWhoseClaimKeyWouldBeTooLongIsRefusedNamingTheLongestId() throws {
        #expect(Self.refusal(JobSpec(id: String(repeating: "a", count: Self.longestID), handler: "h")) == nil)
        for length in [Self.longestID + 1, 975] {
            let message = try #require(Self.refusal(JobSpec(id: String(repeating: "a", count: length), handler: "h")))
            #expect(message.contains("id is \(length) bytes long (UTF-8); the longest job id is 969 bytes"), "\(message)")
            // Neither the layout's keys nor the whole id: the message stays one readable line.
            #expect(!message.contains("/scheduler") && message.count < 300, "\(message)")
        }
        // Items share the run id's width: a sharded job's limit is the same.
        #expect(Self.refusal(JobSpec(id: String(repeating: "a", count: 974), handler: "h", shards: 12)) != nil)
        #expect(Self.refusal(JobSpec(id: String(repeating: "a", count: Self.longestID), handler: "h", shards: JobSpec.maxShards)) == nil)
        // Bytes, not characters: 489 two-byte letters are 978 bytes.
        let accented = try #require(Self.refusal(JobSpec(id: String(repeating: "é", count: 489), handler: "h")))
        #expect(accented.contains("id is 978 bytes long"), "\(accented)")
    }

    /// A run id holds its fire time in 16 digits of epoch milliseconds: a time past year 9999
    /// (10^16 ms is in year 318,857) would make a longer key than the id's limit allows for.
    @Test func aTimeBeyondYear9999IsRefused() throws {
        let id = String(repeating: "a", count: Self.longestID)
        for date in [Date(timeIntervalSince1970: 1e13), Date(timeIntervalSince1970: -1e13)] {
            for schedule in [JobSchedule.once(at: date), .every(.seconds(1), start: date)] {
                let message = try #require(Self.refusal(JobSpec(id: id, handler: "h", schedule: schedule)))
                #expect(message.contains("is outside the years 0001 to 9999"), "\(message)")
            }
        }
        let last = Date(timeIntervalSince1970: 253_402_300_799)  // 9999-12-31T23:59:59Z
        #expect(Self.refusal(JobSpec(id: id, handler: "h", schedule: .once(at: last))) == nil)
        #expect(RunID.scheduled(at: last, item: 61, incarnation: "zzzzzz").utf8.count == 29)
    }

    @Test func aLongerRootLeavesLessRoomForTheId() throws {
        let layout = SchedulerLayout(root: try Key("/scheduler/of/the/payments/team"))
        let shorter = Self.longestID - "/of/the/payments/team".utf8.count
        #expect(Self.refusal(JobSpec(id: String(repeating: "a", count: shorter), handler: "h"), layout: layout) == nil)
        let message = try #require(
            Self.refusal(JobSpec(id: String(repeating: "a", count: shorter + 1), handler: "h"), layout: layout))
        #expect(message.contains("the longest job id is \(shorter) bytes"), "\(message)")
        #expect(message.hasSuffix("under the scheduler root /scheduler/of/the/payments/team"), "\(message)")
    }

    /// The scheduler checks against its own layout, before any write.
    @Test func theSchedulerRefusesAnIdTooLongForItsRoot() async throws {
        let layout = SchedulerLayout(root: try Key("/scheduler/of/the/payments/team"))
        let cluster = try TestCluster(.memory, layout: layout)
        defer { Task { await cluster.shutdown() } }
        let client = try await cluster.client()
        let id = String(repeating: "a", count: Self.longestID)
        for submit in [{ try await client.submit(JobSpec(id: id, handler: "h")) }, { try await client.submit([JobSpec(id: id, handler: "h")]) }]
            as [() async throws -> Void]
        {
            await #expect {
                try await submit()
            } throws: { error in
                (error as? CoordinationError)?.message.contains("the longest job id is 948 bytes") == true
            }
        }
        #expect(try await client.jobs().isEmpty)
    }

    /// The longest id accepted really runs: its claim, its run's completion and its history entry
    /// fit on every backend (a worker used to crash on the claim key of an id 6 bytes longer).
    @Test(arguments: SchedulerBackend.all)
    func aJobWithTheLongestIdRunsToCompletion(backend: SchedulerBackend) async throws {
        let cluster = try TestCluster(backend)
        defer { Task { await cluster.shutdown() } }
        let calls = Shared<[String: Int]>([:])
        try await cluster.startWorker("w0", handlers: ["noop": countingHandler(calls)])
        let client = try await cluster.client()
        let id = String(repeating: "j", count: Self.longestID)
        try await client.submit(JobSpec(id: id, handler: "noop", shards: 2))
        let history = try await cluster.waitForHistory("both items of the longest id") { successes(id, 2)($0) }
        #expect(history.filter { $0.job == id && $0.outcome == .succeeded }.count == 2)
    }

    /// A broadcast run's id holds its worker's id (`r-…-<worker>`): a broadcast job's id leaves
    /// room for the longest worker id, which a worker refuses to exceed.
    @Test func aBroadcastJobLeavesRoomForTheLongestWorkerId() async throws {
        let longest = Self.longestID - 1 - Worker.maxIDBytes
        #expect(Self.refusal(JobSpec(id: String(repeating: "b", count: longest), handler: "h", placement: .broadcast)) == nil)
        let message = try #require(
            Self.refusal(JobSpec(id: String(repeating: "b", count: longest + 1), handler: "h", placement: .broadcast)))
        #expect(message.contains("the longest broadcast job id is \(longest) bytes"), "\(message)")
        #expect(message.contains("a worker id of up to 128 bytes"), "\(message)")
        let store = try await MemoryServer().connect()
        defer { Task { await store.close() } }
        #expect(throws: Never.self) { try Worker(store: store, id: String(repeating: "w", count: Worker.maxIDBytes), handlers: [:]) }
        #expect {
            try Worker(store: store, id: String(repeating: "w", count: Worker.maxIDBytes + 1), handlers: [:])
        } throws: { error in
            (error as? CoordinationError)?.message.contains("is 129 bytes long (UTF-8); the longest worker id is 128 bytes") == true
        }
    }

    /// The longest broadcast job id, run by a worker with the longest id: every key fits.
    @Test(arguments: SchedulerBackend.all)
    func theLongestBroadcastIdRunsOnTheLongestWorkerId(backend: SchedulerBackend) async throws {
        let cluster = try TestCluster(backend)
        defer { Task { await cluster.shutdown() } }
        let calls = Shared<[String: Int]>([:])
        try await cluster.startWorker(String(repeating: "w", count: Worker.maxIDBytes), handlers: ["noop": countingHandler(calls)])
        try await cluster.waitForWorkers(1)  // a broadcast is to the workers live when it is submitted
        let client = try await cluster.client()
        let id = String(repeating: "b", count: Self.longestID - 1 - Worker.maxIDBytes)
        try await client.submit(JobSpec(id: id, handler: "noop", placement: .broadcast))
        let history = try await cluster.waitForHistory("the broadcast run of the longest ids") { successes(id)($0) }
        #expect(history.filter { $0.job == id && $0.outcome == .succeeded }.count == 1)
    }

    @Test(
        "ids that would look like another job's, or like options, are refused",
        arguments: [
            (" nightly", "id ' nightly' starts or ends with a space; remove it"),
            ("nightly ", "starts or ends with a space"),
            ("-dash", "id '-dash' starts with '-'"),
            ("caf\u{65}\u{301}", "id is not in Unicode normal form C"),
        ])
    func oddIds(id: String, problem: String) throws {
        let message = try #require(Self.refusal(JobSpec(id: id, handler: "h")))
        #expect(message.contains(problem), "\(message)")
        #expect(Self.refusal(JobSpec(id: "caf\u{e9} du matin", handler: "h")) == nil, "composed letters and inner spaces are fine")
    }

    @Test func misfireSkipOnAOneShotJobIsRefused() throws {
        for schedule in [JobSchedule.once(at: nil), .once(at: Date(timeIntervalSince1970: 1_577_836_800))] {
            let message = try #require(Self.refusal(JobSpec(id: "past1", handler: "h", schedule: schedule, misfire: .skip)))
            #expect(message.contains("misfire policy skip applies to recurring jobs (cron or every) only"), "\(message)")
        }
        #expect(Self.refusal(JobSpec(id: "r", handler: "h", schedule: .every(.seconds(1), start: nil), misfire: .skip)) == nil)
    }

    /// The record is JSON with the payload in base64, so what fits is about three quarters of
    /// the store's limit, less the rest of the job: the message gives the exact number.
    @Test func aPayloadTooLargeForTheRecordIsRefusedWithTheLimit() async throws {
        let message = try #require(Self.refusal(JobSpec(id: "bigjob", handler: "h", payload: Data(count: 990_000))))
        #expect(message.hasPrefix("job bigjob: payload is 990000 bytes; at most "), "\(message)")
        #expect(message.contains("base64"), "\(message)")
        let words = message.split(separator: " ")
        let index = try #require(words.firstIndex(of: "most"))
        let fits = try #require(Int(words[index + 1]))
        #expect((700_000..<750_000).contains(fits), "\(message)")
        // Exactly that much fits, whatever the bytes: 0xFF is all '/' in base64, which is not escaped.
        let largest = JobSpec(id: "bigjob", handler: "h", payload: Data(repeating: 0xFF, count: fits))
        #expect(Self.refusal(largest) == nil)
        #expect(Self.refusal(JobSpec(id: "bigjob", handler: "h", payload: Data(repeating: 0xFF, count: fits + 3))) != nil)
        // A recurring job's record is written again with each fire time: the same limit holds.
        let recurring = JobSpec(id: "r", handler: "h", payload: Data(count: 990_000), schedule: .every(.seconds(1), start: nil))
        #expect(Self.refusal(recurring)?.contains("payload is 990000 bytes") == true)
    }

    /// The largest payload accepted is stored, and its job run, on every backend.
    @Test(arguments: SchedulerBackend.all)
    func theLargestPayloadAcceptedIsStoredAndRun(backend: SchedulerBackend) async throws {
        let message = try #require(Self.refusal(JobSpec(id: "bigjob", handler: "noop", payload: Data(count: 990_000))))
        let words = message.split(separator: " ")
        let fits = try #require(words.firstIndex(of: "most").flatMap { Int(words[$0 + 1]) })
        let largest = JobSpec(id: "bigjob", handler: "noop", payload: Data(repeating: 0xFF, count: fits))
        let cluster = try TestCluster(backend)
        defer { Task { await cluster.shutdown() } }
        let calls = Shared<[String: Int]>([:])
        try await cluster.startWorker("w0", handlers: ["noop": countingHandler(calls)])
        let client = try await cluster.client()
        try await client.submit(largest)
        #expect(try await client.job("bigjob")?.spec.payload == largest.payload)
        _ = try await cluster.waitForHistory("the large job's run") { successes("bigjob")($0) }
    }

    /// Large jobs submitted together go into as many transactions as their bytes need.
    @Test func largeJobsSubmittedTogetherAreAllStored() async throws {
        let cluster = try TestCluster(.memory)
        defer { Task { await cluster.shutdown() } }
        let client = try await cluster.client()
        let specs = (0..<3).map { JobSpec(id: "big-\($0)", handler: "h", payload: Data(count: 400_000)) }
        try await client.submit(specs)
        #expect(try await client.jobs().map(\.spec.id) == ["big-0", "big-1", "big-2"])
    }

    @Test func shardParametersBeyondTheShardsSayWhatToDo() throws {
        let message = try #require(Self.refusal(JobSpec(id: "j", handler: "h", shardParameters: ["a", "b", "c"])))
        #expect(message.contains("3 shard parameters given for 1 shard: give at most one parameter per shard, or 3 shards"), "\(message)")
    }
}
