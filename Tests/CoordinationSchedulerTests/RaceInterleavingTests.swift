import Coordination
import CoordinationRecipes
@testable import CoordinationScheduler
import CoordinationTestSupport
import Foundation
import Synchronization
import Testing

/// Interleavings that once broke the scheduler's promise: never a job run twice at once, never
/// a job lost.
@Suite(.serverLoadLimit) struct RaceInterleavingTests {
    static let start = Date(timeIntervalSince1970: 1_800_000_000)

    /// Counts the job's handlers running at once, and remembers the most.
    final class Concurrency: Sendable {
        private let state = Mutex<(now: Int, most: Int)>((0, 0))
        func enter() { state.withLock { $0.now += 1; $0.most = max($0.most, $0.now) } }
        func leave() { state.withLock { $0.now -= 1 } }
        var most: Int { state.withLock { $0.most } }
    }

    /// A fire time the leader materialises late (it was away, or busy) may be older than a run
    /// triggered meanwhile that is already running: with overlap `queue` it must wait for that
    /// run, not start beside it because its fire time sorts first.
    @Test(arguments: SchedulerBackend.all)
    func aLateFireTimeWaitsForARunningTriggeredRun(backend: SchedulerBackend) async throws {
        let clock = ManualWallClock(Self.start)
        let cluster = try TestCluster(backend, clock: clock.wallClock)
        defer { Task { await cluster.shutdown() } }
        let client = try await cluster.client()
        let fire = Self.start.addingTimeInterval(10)
        try await client.submit(JobSpec(id: "job", handler: "h", schedule: .every(.seconds(10), start: nil), overlap: .queue))

        // Someone else leads (a leader that is failing over, or stuck) while the fire time passes.
        let leading = Signal()
        let resign = Signal()
        let election = LeaderElection(store: try await cluster.open(), path: cluster.layout.leader, identity: "elsewhere")
        let leader = Task {
            try await election.withLeadership { _ in
                leading.fire()
                await resign.wait()
            }
        }
        await leading.wait()

        let concurrency = Concurrency()
        let triggeredStarted = Signal()
        let releaseTriggered = Signal()
        let handler: JobHandler = { context in
            concurrency.enter()
            defer { concurrency.leave() }
            if context.run.hasPrefix("t-") {
                triggeredStarted.fire()
                await releaseTriggered.wait()
            }
            return RunOutput()
        }
        try await cluster.startWorker("w", capacity: 4, handlers: ["h": handler, "marker": { _ in RunOutput() }])
        clock.advance(by: 10.2)
        // Triggered after the fire time, before any leader materialised it.
        try await client.trigger("job")
        await triggeredStarted.wait()

        // The worker leads now, and materialises the missed fire time (fire once now).
        resign.fire()
        _ = try await leader.value
        _ = try await cluster.waitForRuns(of: "job", "the late fire time's run") { runs in runs.contains { $0.scheduledAt == fire } }
        // Whatever the worker would claim of it, it claims before a job submitted after it.
        try await client.submit(JobSpec(id: "marker", handler: "marker"))
        _ = try await cluster.waitForHistory("the marker job") { successes("marker")($0) }
        releaseTriggered.fire()
        let history = try await cluster.waitForHistory("both runs of the job") { successes("job", 2)($0) }
        #expect(concurrency.most == 1, "two runs of the job ran at once")
        #expect(history.filter { $0.job == "job" && $0.outcome == .succeeded }.last?.scheduledAt == fire, "the fire time ran after")
    }

    /// A claim whose reply is lost lands; before the worker reads it back to find out, the job is
    /// cancelled (the run's record moves past the claim's version). The claim is still the
    /// worker's: it must carry on (and stop for the cancel), not leave the run "running" under its
    /// live claim for as long as its session lasts.
    @Test(arguments: SchedulerBackend.all)
    func aClaimWithALostReplyIsRecoveredAfterACancelRequest(backend: SchedulerBackend) async throws {
        let cluster = try TestCluster(backend)
        defer { Task { await cluster.shutdown() } }
        let client = try await cluster.client()
        let started = Signal()
        let handler: JobHandler = { _ in
            started.fire()
            try await Task.sleep(for: .seconds(3600))
            return RunOutput()
        }
        try await cluster.startWorker("w", handlers: ["h": handler]) { base in
            InterposedTransaction(base, .afterApplyingThenLosingTheReply, when: FaultyTransactionStore.claim) { try await client.cancel("job") }
        }
        try await client.submit(JobSpec(id: "job", handler: "h"))
        let history = try await cluster.waitForHistory("the cancelled run's end", limit: .seconds(20)) { $0.contains { $0.job == "job" } }
        #expect(history.map(\.outcome) == [.cancelled])
        _ = try await cluster.waitForRuns(of: "job", "the run to be gone") { $0.isEmpty }
    }

    /// A progress report whose reply is lost lands, moving the run's record past the fence the
    /// worker knows: the run's end must still be written, not refused as if another worker had
    /// taken the run over (which leaves it "running" under the worker's live claim for good).
    @Test(arguments: SchedulerBackend.all)
    func aProgressReportWithALostReplyDoesNotStrandTheRun(backend: SchedulerBackend) async throws {
        let cluster = try TestCluster(backend)
        defer { Task { await cluster.shutdown() } }
        let layout = cluster.layout
        let reported = Shared<[String]>([])
        let handler: JobHandler = { context in
            do { try await context.reportProgress("half way") } catch { reported.withLock { $0.append("\(error)") } }
            try await context.reportProgress("nearly there")
            return RunOutput(message: "done")
        }
        try await cluster.startWorker("w", handlers: ["h": handler]) { base in
            FaultyTransactionStore(base, .replyLost, count: 1) { operations in
                operations.contains { if case .check(let key, _) = $0 { layout.run(ofClaim: key) != nil } else { false } }
            }
        }
        let client = try await cluster.client()
        try await client.submit(JobSpec(id: "job", handler: "h"))
        let history = try await cluster.waitForHistory("the run's end", limit: .seconds(20)) { $0.contains { $0.job == "job" } }
        #expect(history.map(\.outcome) == [.succeeded])
        #expect(reported.value.isEmpty, "the report landed: the worker found out, and said so")
        _ = try await cluster.waitForRuns(of: "job", "the run to be gone") { $0.isEmpty }
    }

    /// A worker cut off from its store stops its run on its own before the server can end its
    /// session (that is the moment another worker may take the run over), with time to spare for
    /// the handler to wind down: a command given SIGTERM takes a moment to exit. Stopping only at
    /// the very end of the safe window left the attempt at work beside its takeover.
    /// Memory only: it alone cuts one handle off without disturbing the others.
    @Test func aCutOffWorkerHasStoppedItsRunBeforeTheTakeoverStarts() async throws {
        let backend = SchedulerBackend.memory
        let cluster = try TestCluster(backend, sessionTTL: TestCluster.quickTakeover)
        defer { Task { await cluster.shutdown() } }
        let concurrency = Concurrency()
        let started = Signal()
        let handler: JobHandler = { context in
            concurrency.enter()
            defer { concurrency.leave() }
            guard context.attempt == 1 else { return RunOutput() }
            started.fire()
            do { try await Task.sleep(for: .seconds(3600)) } catch {
                // Winding down once stopped, whatever the cancellation says.
                await Task.detached { try? await Task.sleep(for: .milliseconds(100)) }.value
            }
            throw RunFailure("stopped")
        }
        let (_, cutOff) = try await cluster.startWorker("cut-off", handlers: ["work": handler])
        let client = try await cluster.client()
        try await client.submit(JobSpec(id: "job", handler: "work", retry: RetryPolicy(maxRetries: 1, backoffBase: .milliseconds(10))))
        try await withDeadline("the first attempt") { await started.wait() }
        try await cluster.startWorker("healthy", handlers: ["work": handler])
        try await cluster.waitForWorkers(2)
        let suspend = try #require(backend.suspend)
        try await suspend(cutOff)
        let history = try await cluster.waitForHistory("the takeover to succeed") { $0.contains { $0.outcome == .succeeded } }
        #expect(history.map(\.outcome) == [.abandoned, .succeeded])
        #expect(concurrency.most == 1, "the cut-off attempt was still at work when its takeover started")
    }
}

/// Runs `meanwhile` (another client acting) once, at the first transaction `matches` selects:
/// before that transaction goes to the store, or after it was applied, its reply then lost.
final class InterposedTransaction: ForwardingStore {
    enum Moment: Sendable {
        case before
        case afterApplyingThenLosingTheReply
    }

    let base: any CoordinationStore
    private let moment: Moment
    private let matches: @Sendable ([Coordination.Operation]) -> Bool
    private let meanwhile: @Sendable () async throws -> Void
    private let done = Atomic<Bool>(false)

    init(
        _ base: any CoordinationStore, _ moment: Moment, when matches: @escaping @Sendable ([Coordination.Operation]) -> Bool,
        meanwhile: @escaping @Sendable () async throws -> Void
    ) {
        self.base = base
        self.moment = moment
        self.matches = matches
        self.meanwhile = meanwhile
    }

    func transaction(_ operations: [Coordination.Operation]) async throws -> [OperationResult] {
        guard matches(operations), !done.exchange(true, ordering: .relaxed) else { return try await base.transaction(operations) }
        switch moment {
        case .before:
            try await meanwhile()
            return try await base.transaction(operations)
        case .afterApplyingThenLosingTheReply:
            _ = try await base.transaction(operations)
            try await meanwhile()
            throw CoordinationError(.connectionLoss, "reply lost (simulated)")
        }
    }
}
