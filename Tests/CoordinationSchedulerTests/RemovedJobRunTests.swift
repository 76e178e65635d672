import Coordination
import CoordinationRecipes
import CoordinationScheduler
import CoordinationTestSupport
import Foundation
import Synchronization
import Testing

/// A job removed while one of its runs is running: `remove` deletes the run and its claim
/// without waiting for the handler, so the attempt must stop, and what it writes when it ends
/// must not land on whatever the job's keys hold by then.
@Suite(.serverLoadLimit) struct RemovedJobRunTests {
    /// Once armed, fires `ended` when the end of a run has been decided: a transaction that
    /// deletes a claim (the end written, or refused) has returned or thrown, or a claim was read
    /// (to find it is no longer the attempt's, which ends it without a write).
    final class EndOfRunSpy: ForwardingStore {
        let base: any CoordinationStore
        let ended = Signal()
        let armed = Mutex(false)

        init(_ base: any CoordinationStore) { self.base = base }

        func transaction(_ operations: [Coordination.Operation]) async throws -> [OperationResult] {
            let endsARun = operations.contains { if case .delete(let key, _) = $0 { key.name == SchedulerLayout.claimName } else { false } }
            defer { if endsARun && armed.withLock({ $0 }) { ended.fire() } }
            return try await base.transaction(operations)
        }

        func get(_ key: Key) async throws -> Record? {
            defer { if key.name == SchedulerLayout.claimName && armed.withLock({ $0 }) { ended.fire() } }
            return try await base.get(key)
        }
    }

    /// A handler that waits until it is cancelled, and the signals of its start and its cancellation.
    static func waitsUntilCancelled() -> (handler: JobHandler, started: Signal, cancelled: Signal) {
        let started = Signal()
        let cancelled = Signal()
        let handler: JobHandler = { _ in
            started.fire()
            do { try await Task.sleep(for: .seconds(3600)) } catch { cancelled.fire() }
            return RunOutput()
        }
        return (handler, started, cancelled)
    }

    /// The handler of a removed job's run is stopped, even when its worker saw only the run's
    /// deletion (on ZooKeeper a watch re-reads, and may find the run gone rather than asked to
    /// stop): here the job's keys are deleted without the cancel request `remove` writes first.
    @Test(arguments: SchedulerBackend.all)
    func aRunWhoseJobIsDeletedUnderItIsStopped(backend: SchedulerBackend) async throws {
        let cluster = try TestCluster(backend)
        defer { Task { await cluster.shutdown() } }
        let (waits, started, cancelled) = Self.waitsUntilCancelled()
        try await cluster.startWorker("w", handlers: ["wait": waits])
        let client = try await cluster.client()
        try await client.submit(JobSpec(id: "job", handler: "wait"))
        try await withDeadline("the run to start") { await started.wait() }
        let store = try await cluster.open()
        for key in [try cluster.layout.job("job"), try cluster.layout.history(of: "job")] {
            try await store.delete(key, ifVersion: nil, recursive: true)
        }
        try await withDeadline("the handler of the deleted run to be cancelled") { await cancelled.wait() }
    }

    /// A run deleted while its worker's watches start over (here as it becomes the leader) is
    /// stopped too, though no delete event ever reaches the worker: its view's fresh snapshot
    /// lacks the run. The worker used to look only for cancel requests in a snapshot, and the
    /// handler ran on (seen once under the whole suite's load, where the leadership came late).
    @Test(arguments: SchedulerBackend.all)
    func aRunDeletedWhileItsWorkersWatchesStartOverIsStopped(backend: SchedulerBackend) async throws {
        let cluster = try TestCluster(backend)
        defer { Task { await cluster.shutdown() } }
        // The leader at first: it has no handler for the job, so it never runs it.
        try await cluster.startWorker("leader", handlers: [:])
        let election = LeaderElection(store: try await cluster.open(), path: cluster.layout.leader, identity: "observer")
        try await withDeadline("the first worker to lead") {
            for try await leader in election.leaders() where leader?.identityString == "leader" { return }
        }
        let (waits, started, cancelled) = Self.waitsUntilCancelled()
        let layout = cluster.layout
        let spy = Shared<ChangeBeforeWatchingAllJobs?>(nil)
        try await cluster.startWorker("w", handlers: ["wait": waits]) { base in
            let store = ChangeBeforeWatchingAllJobs(base, layout: layout)
            spy.withLock { $0 = store }
            return store
        }
        let client = try await cluster.client()
        try await client.submit(JobSpec(id: "job", handler: "wait"))
        try await withDeadline("the run to start") { await started.wait() }
        let store = try await cluster.open()
        let watcher = try #require(spy.value)
        watcher.arm {
            for key in [try layout.job("job"), try layout.history(of: "job")] {
                try await store.delete(key, ifVersion: nil, recursive: true)
            }
        }
        // The other worker leaves: "w" leads, and watches every job afresh.
        try await cluster.stopWorker("leader")
        try await withDeadline("the job's keys to be deleted as the worker's watches start over") { await watcher.changed.wait() }
        try await withDeadline("the handler of the deleted run to be cancelled") { await cancelled.wait() }
    }

    /// A one-shot job removed while its run's handler is still stopping, then added again with
    /// the same time: the new run had the old one's id, and its record the version the old
    /// attempt last wrote; now its id carries the new incarnation's tag. The old attempt's
    /// progress and end must be refused, not land on the new run (the end deleted it and its
    /// claim under the worker running it, whose success was then never recorded). Also when the
    /// attempt was first stopped by its worker's shutdown (its hand-back then overwrote the new run).
    @Test(arguments: SchedulerBackend.all, [false, true])
    func aStaleAttemptDoesNotEndARunOfTheSameIdAddedAgain(backend: SchedulerBackend, shutdownFirst: Bool) async throws {
        let cluster = try TestCluster(backend)
        defer { Task { await cluster.shutdown() } }
        let firstStarted = Signal()
        let firstRelease = Signal()
        let firstCancelled = Signal()
        let oldContext = Shared<RunContext?>(nil)
        let old: JobHandler = { context in
            oldContext.withLock { $0 = context }
            firstStarted.fire()
            // Ignores cancellation: still at work after the removal.
            await withTaskCancellationHandler {
                await Task { await firstRelease.wait() }.value
            } onCancel: {
                firstCancelled.fire()
            }
            return RunOutput(message: "the removed job's run")
        }
        let spy = Shared<EndOfRunSpy?>(nil)
        try await cluster.startWorker("old", gracePeriod: .milliseconds(100), handlers: ["h": old]) { store in
            let wrapped = EndOfRunSpy(store)
            spy.withLock { $0 = wrapped }
            return wrapped
        }
        let oldStore = try #require(spy.value)
        let client = try await cluster.client()
        let spec = JobSpec(id: "job", handler: "h", schedule: .once(at: Date(timeIntervalSince1970: 1_700_000_000)))
        try await client.submit(spec)
        try await withDeadline("the first run to start") { await firstStarted.wait() }
        let oldRun = try #require(try await client.activeRuns(of: "job").first)
        let stopping = Task { if shutdownFirst { try await cluster.stopWorker("old") } }
        if shutdownFirst { try await withDeadline("the end of the grace to cancel the handler") { await firstCancelled.wait() } }
        try await client.remove("job")
        try await withDeadline("the removal to cancel the handler") { await firstCancelled.wait() }

        let secondStarted = Signal()
        let secondRelease = Signal()
        let new: JobHandler = { _ in
            secondStarted.fire()
            await secondRelease.wait()
            return RunOutput(message: "the new job's run")
        }
        // Only the new worker may run the new job: the old one, with a slot free, would run it with its own handler.
        try await cluster.startWorker("new", labels: ["role": "new"], handlers: ["h": new])
        var again = spec
        again.requiredLabels = ["role": "new"]
        try await client.submit(again)
        try await withDeadline("the new run to start") { await secondStarted.wait() }
        let newRun = try #require(try await client.activeRuns(of: "job").first)
        #expect(newRun.record.scheduledAt == oldRun.record.scheduledAt && newRun.record.run != oldRun.record.run, "another incarnation")
        let stale = try #require(oldContext.value)
        await #expect(throws: SchedulerError.fenced(job: "job", run: stale.run)) { try await stale.progress("stale") }
        #expect(try await client.activeRuns(of: "job").first?.record.progress == nil)

        oldStore.armed.withLock { $0 = true }
        firstRelease.fire()
        try await withDeadline("the old attempt's end") { await oldStore.ended.wait() }
        let runs = try await client.activeRuns(of: "job")
        #expect(runs.count == 1 && runs.first?.record.worker == "new" && runs.first?.token == newRun.token, "\(runs)")
        #expect(try await client.history(of: "job").isEmpty, "nothing of the removed job's run in the new job's history")
        try await stopping.value

        secondRelease.fire()
        let history = try await cluster.waitForHistory("the new run's success") { successes("job")($0) }
        #expect(history.map(\.worker) == ["new"])
        #expect(history.map(\.message) == ["the new job's run"])
    }
}
