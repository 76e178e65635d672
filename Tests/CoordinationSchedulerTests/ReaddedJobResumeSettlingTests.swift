import Coordination
import CoordinationScheduler
import CoordinationTestSupport
import Foundation
import Synchronization
import Testing

/// The leader settles a resume with no fire time due yet (``LeaderDuties/settleResume``) by a
/// compare-and-set of the record its view holds. A job removed and added again under its id
/// (and paused and resumed, to the same version) in between is another job at that version:
/// without the incarnation check, the old record (definition, state, tag) was written over it.
@Suite(.serverLoadLimit) struct ReaddedJobResumeSettlingTests {
    static let start = Date(timeIntervalSince1970: 1_800_000_000)

    @Test(arguments: SchedulerBackend.all)
    func aJobAddedAgainAsItsResumeIsSettledKeepsItsNewDefinition(backend: SchedulerBackend) async throws {
        let clock = ManualWallClock(Self.start)
        let cluster = try TestCluster(backend, clock: clock.wallClock)
        defer { Task { await cluster.shutdown() } }
        let layout = cluster.layout
        let client = try await cluster.client()
        let original = JobSpec(id: "job", handler: "noop", payload: Data("old".utf8), schedule: .every(.seconds(60), start: nil))
        let replacement = JobSpec(id: "job", handler: "noop", payload: Data("new".utf8), schedule: .every(.seconds(3600), start: nil))
        // Submitted, paused and resumed: the record is at the same version for either job.
        try await client.submit(original)
        try await client.pause("job")
        try await client.resume("job")
        let settled = Signal()
        try await cluster.startWorker("w0", handlers: ["noop": { _ in RunOutput() }]) { base in
            JobReplacedBeforeASettlingStore(base, job: try! layout.job("job"), settled: settled) {
                try await client.remove("job")
                try await client.submit(replacement)
                try await client.pause("job")
                try await client.resume("job")
            }
        }
        try await withDeadline("the leader's settling of the resume") { await settled.wait() }
        let stored = try #require(try await client.job("job"))
        #expect(stored.spec == replacement, "the job added again keeps its definition: \(String(decoding: stored.spec.payload, as: UTF8.self))")
        #expect(stored.state.paused == false)
    }
}

/// Before the first transaction that sets `job`'s record and creates nothing (a write of the
/// state alone, such as a settling or a rebalance, not a fire time), runs `replace`; fires
/// `settled` once that transaction has ended. Any set of the record is taken, with a version or
/// without: a write that lost its compare-and-set is still one to interpose on.
final class JobReplacedBeforeASettlingStore: ForwardingStore {
    let base: any CoordinationStore
    private let job: Key
    private let settled: Signal
    private let replace: @Sendable () async throws -> Void
    private let done = Atomic<Bool>(false)

    init(_ base: any CoordinationStore, job: Key, settled: Signal, replace: @escaping @Sendable () async throws -> Void) {
        self.base = base
        self.job = job
        self.settled = settled
        self.replace = replace
    }

    func transaction(_ operations: [Coordination.Operation]) async throws -> [OperationResult] {
        let setsJob = operations.contains { if case .set(job, _, _) = $0 { true } else { false } }
        let creates = operations.contains { if case .create = $0 { true } else { false } }
        guard setsJob && !creates && !done.exchange(true, ordering: .relaxed) else { return try await base.transaction(operations) }
        try await replace()
        defer { settled.fire() }
        return try await base.transaction(operations)
    }
}
