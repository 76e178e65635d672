import Coordination
import CoordinationScheduler
import CoordinationTestSupport
import Foundation
import Testing

/// What a job may be so that every key the scheduler will write for it fits the store's limits:
/// refused when it is submitted, not when a worker claims its first run.
@Suite(.serverLoadLimit) struct JobLimitTests {
    /// The longest id under the default root: a claim `/scheduler/jobs/<b>/<id>/<22-byte run id>/claim`
    /// is 48 bytes besides the id, within the 1024-byte key limit.
    static let longestID = 976

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
        for length in [Self.longestID + 1, 982] {
            let message = try #require(Self.refusal(JobSpec(id: String(repeating: "a", count: length), handler: "h")))
            #expect(message.contains("id is \(length) bytes long (UTF-8); the longest job id is 976 bytes"), "\(message)")
            // Neither the layout's keys nor the whole id: the message stays one readable line.
            #expect(!message.contains("/scheduler") && message.count < 300, "\(message)")
        }
        // Items share the run id's width: a sharded job's limit is the same.
        #expect(Self.refusal(JobSpec(id: String(repeating: "a", count: 981), handler: "h", shards: 12)) != nil)
        #expect(Self.refusal(JobSpec(id: String(repeating: "a", count: Self.longestID), handler: "h", shards: 62)) == nil)
        // Bytes, not characters: 489 two-byte letters are 978 bytes.
        let accented = try #require(Self.refusal(JobSpec(id: String(repeating: "é", count: 489), handler: "h")))
        #expect(accented.contains("id is 978 bytes long"), "\(accented)")
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
                (error as? CoordinationError)?.message.contains("the longest job id is 955 bytes") == true
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
}
