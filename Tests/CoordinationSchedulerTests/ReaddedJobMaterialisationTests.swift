import Coordination
import CoordinationScheduler
import CoordinationTestSupport
import Foundation
import Synchronization
import Testing

/// The leader materialises a recurring job's first fire time with a compare-and-set of the job's
/// record at the version it read (``LeaderDuties/requireUnchanged``). A job removed and added
/// again under the same id between that read and the transaction is at the same version: the old
/// record (definition, state and incarnation) was written over the new one, and the old
/// incarnation's run created. The transaction now checks the incarnation's key (``IncarnationFence``).
@Suite(.serverLoadLimit) struct ReaddedJobMaterialisationTests {
    static let start = Date(timeIntervalSince1970: 1_800_000_000)

    @Test(arguments: SchedulerBackend.all)
    func aJobAddedAgainAsItsFirstFireTimeIsMaterialisedKeepsItsNewDefinition(backend: SchedulerBackend) async throws {
        let clock = ManualWallClock(Self.start)
        let cluster = try TestCluster(backend, clock: clock.wallClock)
        defer { Task { await cluster.shutdown() } }
        let layout = cluster.layout
        let client = try await cluster.client()
        let replacement = JobSpec(id: "job", handler: "noop", payload: Data("new".utf8), schedule: .every(.seconds(3600), start: nil))
        let materialised = Signal()
        try await cluster.startWorker("w0", handlers: ["noop": { _ in RunOutput() }]) { base in
            JobReplacedBeforeMaterialisationStore(base, job: try! layout.job("job"), materialised: materialised) {
                try await client.remove("job")
                try await client.submit(replacement)
            }
        }
        try await client.submit(JobSpec(id: "job", handler: "noop", payload: Data("old".utf8), schedule: .every(.seconds(60), start: nil)))
        try await withDeadline("the leader's wake for the first fire time") {
            await clock.waitForSleeper(until: Self.start.addingTimeInterval(60))
        }
        clock.advance(by: 60)
        try await withDeadline("the materialisation") { await materialised.wait() }
        let stored = try await client.job("job")
        #expect(stored?.spec == replacement, "the job added again keeps its definition: \(String(describing: stored?.spec.payload))")
    }
}

/// Before the first transaction that sets `job`'s record and creates a run beneath it (a
/// materialisation), runs `replace`; fires `materialised` once that transaction has ended. Any
/// set of the record is taken, with a version or without: a materialisation that lost its
/// compare-and-set is still one to interpose on.
final class JobReplacedBeforeMaterialisationStore: ForwardingStore {
    let base: any CoordinationStore
    private let job: Key
    private let materialised: Signal
    private let replace: @Sendable () async throws -> Void
    private let done = Atomic<Bool>(false)

    init(_ base: any CoordinationStore, job: Key, materialised: Signal, replace: @escaping @Sendable () async throws -> Void) {
        self.base = base
        self.job = job
        self.materialised = materialised
        self.replace = replace
    }

    func transaction(_ operations: [Coordination.Operation]) async throws -> [OperationResult] {
        let setsJob = operations.contains { if case .set(job, _, _) = $0 { true } else { false } }
        let createsRun = operations.contains { if case .create(let key, _, _) = $0 { key.parent == job } else { false } }
        guard setsJob && createsRun && !done.exchange(true, ordering: .relaxed) else { return try await base.transaction(operations) }
        try await replace()
        defer { materialised.fire() }
        return try await base.transaction(operations)
    }
}
