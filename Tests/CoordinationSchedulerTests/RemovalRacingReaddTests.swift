import Coordination
import CoordinationScheduler
import CoordinationTestSupport
import Foundation
import Synchronization
import Testing

/// ``Scheduler/remove(_:)`` deletes the job's incarnation key before its record and history. Left
/// to the end, a job added again under its id once those went is at the version a write read
/// before the removal expected, while the old incarnation's key still stands: that write (a
/// pause here) put the old record (definition, state, tag) over the new job.
@Suite(.serverLoadLimit) struct RemovalRacingReaddTests {
    @Test(arguments: SchedulerBackend.all)
    func aWriteReadBeforeARemovalDoesNotLandOnTheJobAddedRightAfter(backend: SchedulerBackend) async throws {
        let cluster = try TestCluster(backend)
        defer { Task { await cluster.shutdown() } }
        let layout = cluster.layout
        let plain = try await cluster.client()
        let replacement = JobSpec(id: "job", handler: "noop", payload: Data("new".utf8), schedule: .every(.seconds(3600), start: nil))
        try await plain.submit(JobSpec(id: "job", handler: "noop", payload: Data("old".utf8), schedule: .every(.seconds(60), start: nil)))
        let gate = WriteGate()
        let pausing = Scheduler(store: HeldWriteStore(plain.store, job: try layout.job("job"), gate: gate), layout: layout, clock: cluster.clock)
        let removing = Scheduler(
            store: ReaddAfterRemovalStore(plain.store, history: try layout.history(of: "job"), gate: gate) {
                try await plain.submit(replacement)
            }, layout: layout, clock: cluster.clock)
        let pause = Task { try await pausing.pause("job") }
        // The pause has read the old job and holds its write until the job is added again.
        try await withDeadline("the pause's write") { await gate.arrived.wait() }
        try await withDeadline("the removal") { try await removing.remove("job") }
        try await withDeadline("the pause") { try await pause.value }
        let stored = try #require(try await plain.job("job"))
        #expect(stored.spec == replacement, "the job added again keeps its definition: \(String(decoding: stored.spec.payload, as: UTF8.self))")
        // Applied to the job there now, as if it had come after the replacement.
        #expect(stored.state.paused)
    }
}

/// The moments shared by the held write and the removal.
final class WriteGate: Sendable {
    /// The held write was reached.
    let arrived = Signal()
    /// The job was added again: the held write goes on.
    let readded = Signal()
    /// The held write ended (landed or refused): the removal goes on.
    let written = Signal()
}

/// Holds the first transaction that sets `job`'s record at a version until the gate's `readded`.
final class HeldWriteStore: ForwardingStore {
    let base: any CoordinationStore
    private let job: Key
    private let gate: WriteGate
    private let done = Atomic<Bool>(false)

    init(_ base: any CoordinationStore, job: Key, gate: WriteGate) {
        self.base = base
        self.job = job
        self.gate = gate
    }

    func transaction(_ operations: [Coordination.Operation]) async throws -> [OperationResult] {
        let setsJob = operations.contains { if case .set(job, _, .some) = $0 { true } else { false } }
        guard setsJob && !done.exchange(true, ordering: .relaxed) else { return try await base.transaction(operations) }
        gate.arrived.fire()
        await gate.readded.wait()
        defer { gate.written.fire() }
        return try await base.transaction(operations)
    }
}

/// Once the job's `history` folder is deleted (after its record: the job can be added again),
/// runs `readd`, lets the held write go on, and waits for it before the removal goes on.
final class ReaddAfterRemovalStore: ForwardingStore {
    let base: any CoordinationStore
    private let history: Key
    private let gate: WriteGate
    private let readd: @Sendable () async throws -> Void

    init(_ base: any CoordinationStore, history: Key, gate: WriteGate, readd: @escaping @Sendable () async throws -> Void) {
        self.base = base
        self.history = history
        self.gate = gate
        self.readd = readd
    }

    func delete(_ key: Key, ifVersion: Int64?, recursive: Bool) async throws {
        try await base.delete(key, ifVersion: ifVersion, recursive: recursive)
        guard key == history else { return }
        try await readd()
        gate.readded.fire()
        await gate.written.wait()
    }
}
