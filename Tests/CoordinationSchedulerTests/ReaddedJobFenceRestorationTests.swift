import Coordination
@testable import CoordinationScheduler
import CoordinationTestSupport
import Foundation
import Synchronization
import Testing

/// The leader's fencing again of a job an earlier coord wrote back without `fenced`
/// (``FenceRestoration``) is a compare-and-set of the record read, at its version. A job
/// removed and added again under the id between that read and the write (and paused, to the
/// same version) is another job at that version: only the check of the read incarnation's key,
/// in the same transaction, keeps the old record from being written over it. The restoration's
/// tests had no such race: dropping that check passed them all (found by the mutation audit of
/// the leader's upkeep).
@Suite(.serverLoadLimit) struct ReaddedJobFenceRestorationTests {
    @Test(arguments: SchedulerBackend.all)
    func aJobAddedAgainAsTheLeaderFencesItsPredecessorKeepsItsDefinition(backend: SchedulerBackend) async throws {
        let cluster = try TestCluster(backend)
        defer { Task { await cluster.shutdown() } }
        let layout = cluster.layout
        let client = try await cluster.client()
        let original = JobSpec(id: "job", handler: "noop", payload: Data("old".utf8), schedule: .every(.seconds(3600), start: nil))
        let replacement = JobSpec(id: "job", handler: "noop", payload: Data("new".utf8), schedule: .every(.seconds(3600), start: nil))
        // Submitted and written back unfenced: one write after its creation, as the paused replacement's.
        try await client.submit(original)
        _ = try await FenceRestorationTests.unfence("job", in: client.store, layout: layout)
        let fencing = Signal()
        try await cluster.startWorker("w0", handlers: ["noop": { _ in RunOutput() }]) { base in
            JobReplacedBeforeItsFencingStore(base, job: try! layout.job("job"), fenced: fencing) {
                try await client.remove("job")
                try await client.submit(replacement)
                try await client.pause("job")
            }
        }
        try await withDeadline("the leader's fencing of the job") { await fencing.wait() }
        let stored = try #require(try await client.job("job"))
        #expect(stored.spec == replacement, "the job added again keeps its definition: \(String(decoding: stored.spec.payload, as: UTF8.self))")
        #expect(stored.state.paused)
        #expect(try await !client.isBeingRemoved(stored), "the record holds the tag of the job added again, whose key exists")
    }
}

/// Before the first transaction that sets `job`'s record at a version to a fenced state (a
/// write only the fence restoration makes of a record read unfenced), runs `replace`; fires
/// `fenced` once that transaction has ended.
private final class JobReplacedBeforeItsFencingStore: ForwardingStore {
    let base: any CoordinationStore
    private let job: Key
    private let fenced: Signal
    private let replace: @Sendable () async throws -> Void
    private let done = Atomic<Bool>(false)

    init(_ base: any CoordinationStore, job: Key, fenced: Signal, replace: @escaping @Sendable () async throws -> Void) {
        self.base = base
        self.job = job
        self.fenced = fenced
        self.replace = replace
    }

    func transaction(_ operations: [Coordination.Operation]) async throws -> [OperationResult] {
        let fencesJob = operations.contains { operation in
            guard case .set(job, let value, .some) = operation, let record = try? SchedulerJSON.decode(JobRecord.self, from: value, key: job)
            else { return false }
            return record.state.fenced
        }
        guard fencesJob && !done.exchange(true, ordering: .relaxed) else { return try await base.transaction(operations) }
        try await replace()
        defer { fenced.fire() }
        return try await base.transaction(operations)
    }
}
