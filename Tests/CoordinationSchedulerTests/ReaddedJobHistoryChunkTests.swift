import Coordination
import CoordinationScheduler
import CoordinationTestSupport
import Foundation
import Synchronization
import Testing

/// The finished-job sweep deletes a history longer than one transaction holds in chunks, each
/// checking the job's record at the version read and the incarnation's key. A job removed and
/// added again under its id between two chunks (to that version) has a history folder made
/// anew, whose sequential entries start over under the names the sweep read: checked by the
/// record's version alone, the next chunk deleted the new job's entries.
@Suite(.serverLoadLimit) struct ReaddedJobHistoryChunkTests {
    static let start = Date(timeIntervalSince1970: 1_800_000_000)

    @Test(arguments: SchedulerBackend.all)
    func aJobAddedAgainBetweenTwoChunksOfItsPredecessorsHistoryKeepsItsOwn(backend: SchedulerBackend) async throws {
        let clock = ManualWallClock(Self.start)
        let cluster = try TestCluster(backend, clock: clock.wallClock)
        defer { Task { await cluster.shutdown() } }
        let layout = cluster.layout
        let client = try await cluster.client()
        let store = try await cluster.open()
        let encoder = JSONEncoder()
        encoder.dateEncodingStrategy = .millisecondsSince1970
        let entry = Array(try encoder.encode(HistoryEntry(job: "long", finishedAt: Self.start, outcome: .skipped)))
        @Sendable func writeHistory(_ count: Int) async throws {
            for _ in 0..<count { _ = try await store.create(try layout.newHistoryEntry(of: "long"), value: entry, mode: .sequential) }
        }
        let replacement = JobSpec(id: "long", handler: "noop", payload: Data("new".utf8), schedule: .every(.seconds(3600), start: nil))
        let nextChunk = Signal()
        try await cluster.startWorker("w0", finishedJobRetention: .seconds(4), handlers: ["noop": { _ in RunOutput() }]) { base in
            JobReplacedAfterAHistoryChunkStore(base, job: try! layout.job("long"), history: try! layout.history(of: "long"), nextChunk: nextChunk) { version in
                try await client.remove("long")
                try await client.submit(replacement)
                // To the version the sweep checks: each pause writes the record (a resume would
                // have the leader write it too).
                while let current = try await store.get(try layout.job("long"))?.version, current < version {
                    try await client.pause("long")
                }
                try await writeHistory(120)
            }
        }
        try await client.submit(JobSpec(id: "long", handler: "noop"))
        _ = try await cluster.waitForHistory("the run", successes("long"))
        // 130 entries: two chunks of 59, then the rest with the job.
        try await writeHistory(129)
        clock.advance(by: 5)
        try await withDeadline("the sweep's next chunk, after the job was added again") { await nextChunk.wait() }
        let stored = try #require(try await client.job("long"))
        #expect(stored.spec == replacement)
        #expect(try await store.children(of: try layout.history(of: "long")).count == 120, "the new job's history is its own")
    }
}

/// After the first transaction that checks `job`'s record at a version and deletes entries of
/// its `history` without deleting the job (a chunk of a long history's removal), runs `replace` with that version; fires `nextChunk`
/// once the next such transaction has ended, landed or refused.
final class JobReplacedAfterAHistoryChunkStore: ForwardingStore {
    let base: any CoordinationStore
    private let job: Key
    private let history: Key
    private let nextChunk: Signal
    private let replace: @Sendable (Int64) async throws -> Void
    private let chunks = Atomic<Int>(0)

    init(_ base: any CoordinationStore, job: Key, history: Key, nextChunk: Signal, replace: @escaping @Sendable (Int64) async throws -> Void) {
        self.base = base
        self.job = job
        self.history = history
        self.nextChunk = nextChunk
        self.replace = replace
    }

    func transaction(_ operations: [Coordination.Operation]) async throws -> [OperationResult] {
        let checked = operations.lazy.compactMap { if case .check(self.job, .some(let version)) = $0 { version } else { nil } }.first
        let deletesJob = operations.contains { if case .delete(self.job, _) = $0 { true } else { false } }
        let deletesEntries = operations.contains { if case .delete(let key, _) = $0 { key.parent == self.history } else { false } }
        guard let checked, deletesEntries, !deletesJob else { return try await base.transaction(operations) }
        switch chunks.add(1, ordering: .relaxed).newValue {
        case 1:
            let results = try await base.transaction(operations)
            try await replace(checked)
            return results
        case 2:
            defer { nextChunk.fire() }
            return try await base.transaction(operations)
        default:
            return try await base.transaction(operations)
        }
    }
}
