import Coordination
import CoordinationScheduler
import CoordinationTestSupport
import Foundation
import Testing

/// Handlers that ignore cancellation. Nothing can end such a handler from outside, so a stop
/// (timeout, cancel request, graceful shutdown past its grace, lost session) must leave its run
/// claimed, its slot taken and its end unwritten until it returns: otherwise a retry, a newer
/// run or another worker would start the job beside it.
@Suite(.serverLoadLimit) struct UncooperativeHandlerTests {
    /// A handler that, for the runs `isDeaf` picks, notes its cancellation and goes on until the
    /// test lets it go; every other run succeeds at once. `events` keeps the order of starts and
    /// returns ("job#attempt start", "job#attempt returned").
    final class DeafHandler: Sendable {
        let started = Signal()
        let cancelled = Signal()
        let release = Signal()
        let otherStarted = Signal()
        let events = Shared<[String]>([])
        let deafContext = Shared<RunContext?>(nil)
        let isDeaf: @Sendable (RunContext) -> Bool

        init(isDeaf: @escaping @Sendable (RunContext) -> Bool = { $0.attempt == 1 }) { self.isDeaf = isDeaf }

        var handler: JobHandler {
            { [self] context in
                let name = "\(context.job)#\(context.attempt)"
                events.withLock { $0.append("\(name) start") }
                guard isDeaf(context) else {
                    otherStarted.fire()
                    return RunOutput(message: "ok")
                }
                deafContext.withLock { $0 = context }
                started.fire()
                await withTaskCancellationHandler {
                    // A task of its own: the handler's cancellation does not reach it.
                    await Task { await self.release.wait() }.value
                } onCancel: {
                    self.cancelled.fire()
                }
                events.withLock { $0.append("\(name) returned") }
                return RunOutput(message: "finished after its stop")
            }
        }
    }

    /// Whether `event` comes within `window`. Only for what must not happen, where no event can
    /// say that it did not: a fixed wait is then the only evidence there is.
    static func happens(within window: Duration, _ event: @escaping @Sendable () async -> Void) async -> Bool {
        await withTaskGroup(of: Bool.self) { group in
            group.addTask {
                await event()
                return true
            }
            group.addTask {
                try? await Task.sleep(for: window)
                return false
            }
            let first = await group.next() ?? false
            group.cancelAll()
            return first
        }
    }

    static let quiet = Duration.milliseconds(500)

    /// The run is still this attempt's: running, by its worker, under its claim.
    static func expectStillClaimed(_ context: RunContext, cluster: TestCluster, client: Scheduler) async throws {
        let runs = try await client.activeRuns(of: context.job)
        #expect(runs.count == 1)
        #expect(runs.first?.record.status == .running && runs.first?.record.worker == context.worker, "\(runs)")
        let store = try await cluster.open()
        let claim = try await store.get(try cluster.layout.claim(context.job, context.run))
        #expect(claim?.createRevision == context.fencingToken, "the claim is still the attempt's")
        #expect(try await client.history(of: context.job).isEmpty, "no end recorded while the handler runs")
    }

    /// A timed-out handler that goes on: the run stays claimed (its progress still lands), its
    /// slot stays taken (capacity 1: another job waits), the retry waits for it, and the entry's
    /// end is when it returned. Then its fence refuses it.
    @Test(arguments: SchedulerBackend.all)
    func aTimedOutHandlerThatGoesOnKeepsItsClaimAndSlot(backend: SchedulerBackend) async throws {
        let cluster = try TestCluster(backend)
        defer { Task { await cluster.shutdown() } }
        let deaf = DeafHandler { $0.job == "slow" && $0.attempt == 1 }
        try await cluster.startWorker("w", capacity: 1, handlers: ["deaf": deaf.handler, "quick": deaf.handler])
        let client = try await cluster.client()
        try await client.submit(
            JobSpec(
                id: "slow", handler: "deaf", timeout: .milliseconds(100),
                retry: RetryPolicy(maxRetries: 1, backoffBase: .milliseconds(10))))
        try await withDeadline("the first attempt to start") { await deaf.started.wait() }
        // Another worker that could take the retry, were the run let go.
        try await cluster.startWorker("v", capacity: 1, handlers: ["deaf": deaf.handler])
        try await withDeadline("the timeout to cancel the handler") { await deaf.cancelled.wait() }
        let stale = try #require(deaf.deafContext.value)
        try await client.submit(JobSpec(id: "other", handler: "quick"))
        #expect(!(await Self.happens(within: Self.quiet) { await deaf.otherStarted.wait() }), "a slot freed while its handler runs")
        try await Self.expectStillClaimed(stale, cluster: cluster, client: client)
        try await stale.progress("still at it")
        #expect(try await client.activeRuns(of: "slow").first?.record.progress == "still at it")

        let released = Date()
        deaf.release.fire()
        let history = try await cluster.waitForHistory("the retry and the other job") {
            successes("slow")($0) && successes("other")($0)
        }
        let slow = history.filter { $0.job == "slow" }
        #expect(slow.map(\.outcome) == [.timedOut, .succeeded])
        #expect(slow.first?.message == "timed out after 100ms", "what it returned after the timeout does not count")
        #expect(try #require(slow.first?.finishedAt) >= released, "the end is when the handler returned, not the timeout")
        #expect(try #require(slow.last?.startedAt) >= released)
        let events = deaf.events.value
        #expect(events.firstIndex(of: "slow#1 returned")! < events.firstIndex(of: "other#1 start")!, "\(events)")
        await #expect(throws: SchedulerError.fenced(job: "slow", run: stale.run)) { try await stale.progress("too late") }
    }

    /// A cancelled handler that goes on: the run stays claimed until it returns, and a newer run
    /// of the job (a trigger) waits for it, on every worker.
    @Test(arguments: SchedulerBackend.all)
    func aCancelledHandlerThatGoesOnHoldsBackTheNextRun(backend: SchedulerBackend) async throws {
        let cluster = try TestCluster(backend)
        defer { Task { await cluster.shutdown() } }
        let deaf = DeafHandler { !$0.run.hasPrefix("t-") }  // not the trigger's run
        try await cluster.startWorker("w", handlers: ["deaf": deaf.handler])
        let client = try await cluster.client()
        try await client.submit(JobSpec(id: "job", handler: "deaf"))
        try await withDeadline("the run to start") { await deaf.started.wait() }
        try await cluster.startWorker("v", handlers: ["deaf": deaf.handler])
        let stale = try #require(deaf.deafContext.value)
        #expect(try await client.cancel("job").askedToStop == [stale.run])
        try await withDeadline("the cancel request to cancel the handler") { await deaf.cancelled.wait() }
        let triggered = try await client.trigger("job")
        #expect(!(await Self.happens(within: Self.quiet) { await deaf.otherStarted.wait() }), "the next run started beside it")
        let runs = try await client.activeRuns(of: "job")
        let running = try #require(runs.first { $0.record.run == stale.run })
        #expect(running.record.status == .running && running.record.cancelRequested)
        #expect(running.token == stale.fencingToken)
        #expect(runs.first { triggered.contains($0.record.run) }?.record.status == .pending)
        // A cancel request moves the run past the attempt's fence: its progress is refused.
        await #expect(throws: SchedulerError.fenced(job: "job", run: stale.run)) { try await stale.progress("after the cancel") }

        let released = Date()
        deaf.release.fire()
        let history = try await cluster.waitForHistory("the cancelled run and the next") { successes("job")($0) }
        #expect(history.map(\.outcome) == [.cancelled, .succeeded])
        #expect(try #require(history.first?.finishedAt) >= released)
        #expect(try #require(history.last?.startedAt) >= released)
        let events = deaf.events.value
        #expect(events.firstIndex(of: "job#1 returned")! < events.lastIndex(of: "job#1 start")!, "\(events)")
    }

    /// `--overlap replace` asks the running run to stop and materialises the newer fire time at
    /// once: with a handler that goes on, the newer run waits for it, on every worker.
    @Test(arguments: SchedulerBackend.all)
    func aReplacedHandlerThatGoesOnHoldsBackItsReplacement(backend: SchedulerBackend) async throws {
        let start = Date(timeIntervalSince1970: 1_800_000_000)
        let clock = ManualWallClock(start)
        let cluster = try TestCluster(backend, clock: clock.wallClock)
        defer { Task { await cluster.shutdown() } }
        let first = start.addingTimeInterval(1)
        let deaf = DeafHandler { $0.scheduledAt == first }
        try await cluster.startWorker("w", handlers: ["deaf": deaf.handler])
        try await cluster.startWorker("v", handlers: ["deaf": deaf.handler])
        let client = try await cluster.client()
        try await client.submit(
            JobSpec(id: "job", handler: "deaf", schedule: .cron(try CronExpression("* * * * * *")), overlap: .replace))
        clock.advance(by: 1)
        try await withDeadline("the first run to start") { await deaf.started.wait() }
        clock.advance(by: 1)
        try await withDeadline("the replacement to cancel the handler") { await deaf.cancelled.wait() }
        // The leader asks the run to stop before it writes the newer fire time's run.
        _ = try await cluster.waitForRuns(of: "job", "the newer run") { $0.count == 2 }
        #expect(!(await Self.happens(within: Self.quiet) { await deaf.otherStarted.wait() }), "the newer run started beside it")
        let stale = try #require(deaf.deafContext.value)
        let running = try #require(try await client.activeRuns(of: "job").first { $0.record.run == stale.run })
        #expect(running.record.status == .running && running.token == stale.fencingToken)

        deaf.release.fire()
        let history = try await cluster.waitForHistory("the replaced run and the next") { successes("job")($0) }
        let replaced = try #require(history.first { $0.scheduledAt == first })
        #expect(replaced.outcome == .cancelled)
        #expect(replaced.message?.hasPrefix("replaced by the fire time ") == true, "\(replaced.message ?? "-")")
        let events = deaf.events.value
        #expect(events.firstIndex(of: "job#1 returned")! < events.lastIndex(of: "job#1 start")!, "\(events)")
    }

    /// A graceful shutdown past its grace cannot hand back a run whose handler goes on: the
    /// worker keeps the claim (and does not stop) until the handler returns, then hands it back.
    @Test(arguments: SchedulerBackend.all)
    func aShutdownWaitsForAHandlerThatGoesOnBeforeHandingItsRunBack(backend: SchedulerBackend) async throws {
        let cluster = try TestCluster(backend)
        defer { Task { await cluster.shutdown() } }
        let deaf = DeafHandler { $0.worker == "leaving" }
        try await cluster.startWorker("leaving", gracePeriod: .milliseconds(100), handlers: ["deaf": deaf.handler])
        let client = try await cluster.client()
        try await client.submit(JobSpec(id: "job", handler: "deaf"))
        try await withDeadline("the run to start") { await deaf.started.wait() }
        let stopped = Signal()
        let stopping = Task {
            try await cluster.stopWorker("leaving")
            stopped.fire()
        }
        try await withDeadline("the end of the grace to cancel the handler") { await deaf.cancelled.wait() }
        try await cluster.startWorker("next", handlers: ["deaf": deaf.handler])
        #expect(!(await Self.happens(within: Self.quiet) { await stopped.wait() }), "the worker stopped while its handler ran")
        #expect(!(await Self.happens(within: .zero) { await deaf.otherStarted.wait() }), "the run was taken while its handler ran")
        let stale = try #require(deaf.deafContext.value)
        try await Self.expectStillClaimed(stale, cluster: cluster, client: client)
        try await stale.progress("still at it")

        let released = Date()
        deaf.release.fire()
        try await stopping.value
        let history = try await cluster.waitForHistory("the run to end elsewhere") { successes("job")($0) }
        #expect(history.map(\.outcome) == [.handedBack, .succeeded])
        #expect(history.map(\.worker) == ["leaving", "next"])
        #expect(try #require(history.first?.finishedAt) >= released)
        #expect(try #require(history.last?.startedAt) >= released)
    }

    /// An expired session is where the worker's hold ends: the run is taken over while a handler
    /// that goes on still runs (no worker can stop it; see ``JobHandler``). The history says the
    /// attempt was abandoned, not that it ended; its progress is refused; and its worker, back
    /// under a new session, still counts it in its capacity (1: another job waits).
    @Test(arguments: SchedulerBackend.all)
    func anExpiredWorkersHandlerThatGoesOnKeepsItsSlotAndIsFenced(backend: SchedulerBackend) async throws {
        let cluster = try TestCluster(backend)
        defer { Task { await cluster.shutdown() } }
        let deaf = DeafHandler { $0.worker == "first" }
        // Not `otherStarted`, which the takeover fires.
        let otherRan = Signal()
        let quick: JobHandler = { context in
            deaf.events.withLock { $0.append("\(context.job)#\(context.attempt) start") }
            otherRan.fire()
            return RunOutput()
        }
        let (_, firstStore) = try await cluster.startWorker("first", capacity: 1, handlers: ["deaf": deaf.handler, "quick": quick])
        let client = try await cluster.client()
        try await client.submit(JobSpec(id: "job", handler: "deaf", retry: RetryPolicy(maxRetries: 1, backoffBase: .milliseconds(10))))
        try await withDeadline("the first attempt to start") { await deaf.started.wait() }
        try await cluster.startWorker("second", handlers: ["deaf": deaf.handler])
        try await backend.expire(firstStore)
        try await withDeadline("the lost session to cancel the handler") { await deaf.cancelled.wait() }
        let history = try await cluster.waitForHistory("the takeover") { successes("job")($0) }
        #expect(history.map(\.outcome) == [.abandoned, .succeeded])
        #expect(history.map(\.worker) == ["first", "second"])
        let stale = try #require(deaf.deafContext.value)
        await #expect(throws: SchedulerError.fenced(job: "job", run: stale.run)) { try await stale.progress("zombie") }
        try await client.submit(JobSpec(id: "other", handler: "quick"))
        #expect(!(await Self.happens(within: Self.quiet) { await otherRan.wait() }), "a slot freed while its handler runs")

        deaf.release.fire()
        _ = try await cluster.waitForHistory("the other job, once the slot is free") { successes("other")($0) }
        let events = deaf.events.value
        #expect(events.firstIndex(of: "job#1 returned")! < events.firstIndex(of: "other#1 start")!, "\(events)")
        #expect(try await client.history(of: "job").map(\.outcome) == [.abandoned, .succeeded], "the fenced-off end did not land")
    }

    /// A worker cut off past its safe window, alone, with a handler that goes on: once it is back
    /// under a new registration its run is abandoned in the store, but it does not claim it
    /// again while the old attempt's handler still runs (nor does that handler's end land).
    // Memory only, as ``SelfFencingTests``: only the embedded store can cut off one handle.
    @Test func aWorkerBackFromALostSessionDoesNotRerunARunItsHandlerStillRuns() async throws {
        let backend = SchedulerBackend.memory
        let cluster = try TestCluster(backend, sessionTTL: TestCluster.quickTakeover)
        defer { Task { await cluster.shutdown() } }
        let deaf = DeafHandler()
        let (_, suspended) = try await cluster.startWorker("alone", handlers: ["deaf": deaf.handler])
        let client = try await cluster.client()
        try await client.submit(JobSpec(id: "job", handler: "deaf", retry: RetryPolicy(maxRetries: 1, backoffBase: .milliseconds(10))))
        try await withDeadline("the first attempt") { await deaf.started.wait() }
        let observer = try await cluster.open()
        let member = try cluster.layout.worker("alone")
        let firstJoin = try #require(try await observer.get(member)).createRevision
        try await cluster.cutOffPastItsSession(worker: "alone", store: suspended)
        try await withDeadline("the cut-off worker to cancel its run") { await deaf.cancelled.wait() }
        try await withDeadline("the worker to join again", limit: .seconds(60)) {
            for try await event in observer.watch(member, scope: .key) {
                if case .put(let record) = event, record.createRevision != firstJoin { return }
                if case .snapshot(let records) = event, let record = records.first, record.createRevision != firstJoin { return }
            }
        }
        #expect(!(await Self.happens(within: Self.quiet) { await deaf.otherStarted.wait() }), "the run was claimed again beside its handler")
        let stale = try #require(deaf.deafContext.value)
        await #expect(throws: SchedulerError.fenced(job: "job", run: stale.run)) { try await stale.progress("zombie") }

        deaf.release.fire()
        let history = try await cluster.waitForHistory("the retry") { successes("job")($0) }
        #expect(history.map(\.outcome) == [.abandoned, .succeeded])
        #expect(!history.contains { $0.message == "finished after its stop" }, "the cut-off attempt's end did not land")
        let events = deaf.events.value
        #expect(events == ["job#1 start", "job#1 returned", "job#2 start"], "\(events)")
    }
}
