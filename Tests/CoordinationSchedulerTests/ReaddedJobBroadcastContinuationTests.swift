import Coordination
import CoordinationTestSupport
import Foundation
import Synchronization
import Testing

@testable import CoordinationScheduler

/// A broadcast to more workers than one transaction holds has its other runs created a chunk at
/// a time (``RunPlan/continueBroadcasts(of:incarnation:workers:in:layout:)``), each with a
/// compare-and-set of the record read for it. A job removed and added again under its id (and
/// paused, to the same version) between that read and the write is another job at that
/// version: without the incarnation check, the old record (definition, state, tag) was written
/// over it, with the old job's runs beneath it.
@Suite(.serverLoadLimit) struct ReaddedJobBroadcastContinuationTests {
    @Test(arguments: SchedulerBackend.all)
    func aJobAddedAgainAsABroadcastsNextChunkIsWrittenKeepsItsNewDefinition(backend: SchedulerBackend) async throws {
        let cluster = try TestCluster(backend)
        defer { Task { await cluster.shutdown() } }
        let layout = cluster.layout
        let plain = try await cluster.client()
        // Membership entries only: no worker runs, so no leader finishes or places anything.
        let info = Array(try JSONEncoder().encode(WorkerInfo(capacity: 1, weight: 1, labels: [:], handlers: ["noop"])))
        for index in 0..<70 {
            _ = try await plain.store.create(try layout.worker("w" + RunID.padded(Int64(index), 3)), value: info, mode: .ephemeral)
        }
        let original = JobSpec(
            id: "job", handler: "noop", payload: Data("old".utf8), schedule: .every(.seconds(3600), start: nil), placement: .broadcast)
        let replacement = JobSpec(id: "job", handler: "noop", payload: Data("new".utf8), schedule: .every(.seconds(3600), start: nil))
        try await plain.submit(original)
        let store = JobReplacedBeforeASecondChunkStore(plain.store, job: try layout.job("job")) {
            try await plain.remove("job")
            try await plain.submit(replacement)
            try await plain.pause("job")
        }
        let client = Scheduler(store: store, layout: layout, clock: cluster.clock)
        // Its first chunk moves the record to version 1, where the replacement is once paused.
        try await client.trigger("job")
        #expect(store.replaced, "the job was replaced between the read for the second chunk and its write")
        let stored = try #require(try await plain.job("job"))
        #expect(stored.spec == replacement, "the job added again keeps its definition: \(String(decoding: stored.spec.payload, as: UTF8.self))")
        #expect(stored.state.paused)
        #expect(try await plain.activeRuns(of: "job").isEmpty, "the old job's runs are not created beneath the new one")
    }
}

/// Runs `replace` before the second transaction that sets `job`'s record at a version and
/// creates runs beneath it: a broadcast's second chunk, read before `replace`.
final class JobReplacedBeforeASecondChunkStore: ForwardingStore {
    let base: any CoordinationStore
    private let job: Key
    private let replace: @Sendable () async throws -> Void
    private let chunks = Atomic<Int>(0)

    init(_ base: any CoordinationStore, job: Key, replace: @escaping @Sendable () async throws -> Void) {
        self.base = base
        self.job = job
        self.replace = replace
    }

    var replaced: Bool { chunks.load(ordering: .relaxed) >= 2 }

    func transaction(_ operations: [Coordination.Operation]) async throws -> [OperationResult] {
        let setsJob = operations.contains { if case .set(job, _, .some) = $0 { true } else { false } }
        let createsRun = operations.contains { if case .create(let key, _, _) = $0 { key.parent == job } else { false } }
        if setsJob && createsRun && chunks.add(1, ordering: .relaxed).newValue == 2 { try await replace() }
        return try await base.transaction(operations)
    }
}
