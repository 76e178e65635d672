import Coordination
import CoordinationScheduler
import CoordinationTestSupport
import Foundation
import Synchronization
import Testing

/// The leader removes a finished one-shot job once its retention has passed, by a delete of the
/// job's key at the version its view saw. A job removed and added again under the same id starts
/// over at that same version: a recurring job put in the finished one's place as the sweep
/// removed it was deleted with its definition, and never fired. Replaced as the sweep listed the
/// history to delete, the removal deleted the new job's (empty) history with it; replaced as the
/// removal went, its first try failed on the finished job's entries, and its second, which read
/// the history again, found nothing in the way.
@Suite(.serverLoadLimit) struct ReaddedFinishedJobSweepTests {
    static let start = Date(timeIntervalSince1970: 1_800_000_000)

    @Test(arguments: SchedulerBackend.all, JobReplacedBeforeItsRemovalStore.Moment.allCases)
    func aJobAddedAgainAsTheSweepRemovesItsFinishedNamesakeIsKept(
        backend: SchedulerBackend, moment: JobReplacedBeforeItsRemovalStore.Moment
    ) async throws {
        let clock = ManualWallClock(Self.start)
        let cluster = try TestCluster(backend, clock: clock.wallClock)
        defer { Task { await cluster.shutdown() } }
        let layout = cluster.layout
        let client = try await cluster.client()
        let replacement = JobSpec(id: "job", handler: "noop", schedule: .every(.seconds(3600), start: nil))
        let retention = Duration.seconds(10)
        let wrapped = Shared<JobReplacedBeforeItsRemovalStore?>(nil)
        try await cluster.startWorker("w0", finishedJobRetention: retention, handlers: ["noop": { _ in RunOutput() }]) { base in
            let store = JobReplacedBeforeItsRemovalStore(
                base, job: try! layout.job("job"), history: try! layout.history(of: "job"), moment: moment,
                armed: { clock.now >= Self.start.addingTimeInterval(3) }
            ) {
                try await client.remove("job")
                try await client.submit(replacement)
            }
            wrapped.withLock { $0 = store }
            return store
        }
        // Run at +0.5 s, the job is due at +10.5 s, when a pass looks anyway: each pass sets its
        // next look 2.5 s on (a quarter of the retention), from +3 s. The clock moves on to it
        // until a pass has tried to remove the job (the leader's view may show the run's end
        // only some passes late: they follow one another as fast as they run), and that pass
        // has ended.
        clock.advance(by: 0.5)
        try await client.submit(JobSpec(id: "job", handler: "noop"))
        _ = try await cluster.waitForHistory("the one-shot run", successes("job"))
        let start = Self.start
        try await withDeadline("a pass of the sweep that tries to remove the finished job") {
            var elapsed = 3.0
            clock.set(start.addingTimeInterval(elapsed))
            while true {
                let next = start.addingTimeInterval(elapsed + 2.5)
                await clock.waitForSleeper(until: next)
                if wrapped.value?.replaced == true { return }
                elapsed += 2.5
                clock.set(next)
            }
        }
        #expect(wrapped.value?.replaced == true, "the job was replaced as the sweep removed it")
        let stored = try await client.job("job")
        #expect(stored?.spec == replacement, "the job added again is still there: \(String(describing: stored?.spec.schedule))")
    }
}

/// Runs `replace` (the job removed and added again under its id) once, at `moment` of the sweep's
/// removal: as it lists the job's history for the second time since `armed` holds (the first
/// listing reads when the job finished), or as the first transaction that deletes `job`'s key at
/// a version goes.
final class JobReplacedBeforeItsRemovalStore: ForwardingStore {
    enum Moment: String, Sendable, CaseIterable, CustomTestStringConvertible {
        case historyRead, removal
        var testDescription: String { rawValue }
    }

    let base: any CoordinationStore
    private let job: Key
    private let history: Key
    private let moment: Moment
    private let armed: @Sendable () -> Bool
    private let replace: @Sendable () async throws -> Void
    private let done = Atomic<Bool>(false)
    private let listings = Atomic<Int>(0)

    /// Whether `replace` ran.
    var replaced: Bool { done.load(ordering: .relaxed) }

    init(
        _ base: any CoordinationStore, job: Key, history: Key, moment: Moment, armed: @escaping @Sendable () -> Bool,
        replace: @escaping @Sendable () async throws -> Void
    ) {
        self.base = base
        self.job = job
        self.history = history
        self.moment = moment
        self.armed = armed
        self.replace = replace
    }

    func children(of key: Key) async throws -> [String] {
        if moment == .historyRead && key == history && armed() && listings.add(1, ordering: .relaxed).newValue == 2 {
            done.store(true, ordering: .relaxed)
            try await replace()
        }
        return try await base.children(of: key)
    }

    func transaction(_ operations: [Coordination.Operation]) async throws -> [OperationResult] {
        let removesJob = operations.contains { if case .delete(job, .some) = $0 { true } else { false } }
        if moment == .removal && removesJob && !done.exchange(true, ordering: .relaxed) { try await replace() }
        return try await base.transaction(operations)
    }
}
