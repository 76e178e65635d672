import Coordination
import CoordinationRecipes
import CoordinationScheduler
import CoordinationTestSupport
import Foundation
import Testing

/// A worker's session ends while it runs a run of a paused job. Workers take over no run of a
/// paused job, and a takeover was what recorded an abandonment: the run said `running` on a
/// worker that was gone until the job was resumed, and the history had no `abandoned` entry.
@Suite(.serverLoadLimit) struct PausedJobAbandonmentTests {
    /// Starts a run of `job` on a worker, `doomed`, with another worker, `lives`, beside it; pauses
    /// the job and ends `doomed`'s session; returns once the attempt has been stopped.
    static func abandonWhilePaused(
        _ backend: SchedulerBackend, retry: RetryPolicy
    ) async throws -> (TestCluster, Scheduler, attempts: Shared<[(worker: String, attempt: Int, token: Int64)]>) {
        let cluster = try TestCluster(backend)
        let (handler, attempts, started, cancelled) = SelfFencingTests.firstAttemptHangs()
        let (_, doomedStore) = try await cluster.startWorker("doomed", handlers: ["work": handler])
        let client = try await cluster.client()
        try await client.submit(JobSpec(id: "job", handler: "work", retry: retry))
        try await withDeadline("the first attempt") { await started.wait() }
        // Started after the claim, so that the doomed worker runs the first attempt.
        try await cluster.startWorker("lives", handlers: ["work": handler])
        try await cluster.waitForWorkers(2)
        try await client.pause("job")
        try await backend.expire(doomedStore)
        try await withDeadline("the first attempt to be stopped") { await cancelled.wait() }
        return (cluster, client, attempts)
    }

    @Test(arguments: SchedulerBackend.all)
    func theAbandonmentIsRecordedBeforeTheResumeAndTheRunRunsOnceAfterIt(backend: SchedulerBackend) async throws {
        let (cluster, client, attempts) = try await Self.abandonWhilePaused(
            backend, retry: RetryPolicy(maxRetries: 2, backoffBase: .milliseconds(10)))
        defer { Task { await cluster.shutdown() } }
        let runs = try await cluster.waitForRuns(of: "job", "the run to be no longer running") {
            $0.count == 1 && $0[0].status == .pending
        }
        #expect(runs[0].attempt == 2, "the next attempt waits")
        let abandoned = try await cluster.waitForHistory("the abandonment") { $0.contains { $0.outcome == .abandoned } }
        #expect(abandoned.map(\.outcome) == [.abandoned])
        #expect(abandoned.first?.worker == "doomed" && abandoned.first?.attempt == 1, "the entry names the lost attempt")
        #expect(abandoned.first?.token == attempts.value.first?.token, "the entry names the lost attempt's token")
        #expect(attempts.value.count == 1, "nobody ran the paused job's run")

        try await client.resume("job")
        let history = try await cluster.waitForHistory("the run after the resume") { $0.contains { $0.outcome == .succeeded } }
        #expect(history.map(\.outcome) == [.abandoned, .succeeded])
        _ = try await cluster.waitForRuns(of: "job", "the run to end") { $0.isEmpty }
        #expect(attempts.value.map(\.attempt) == [1, 2], "run once after the resume")
    }

    /// With no retry left the run ends, abandoned, and the resume has nothing to run.
    @Test(arguments: SchedulerBackend.all)
    func withNoRetryLeftTheRunEndsAbandonedWhilePaused(backend: SchedulerBackend) async throws {
        let (cluster, client, attempts) = try await Self.abandonWhilePaused(backend, retry: RetryPolicy(maxRetries: 0))
        defer { Task { await cluster.shutdown() } }
        _ = try await cluster.waitForRuns(of: "job", "the run to end") { $0.isEmpty }
        let history = try await client.history(of: "job")
        #expect(history.map(\.outcome) == [.abandoned])
        #expect(history.first?.message?.contains("no retries left") == true, "\(history.first?.message ?? "")")
        #expect(history.first?.worker == "doomed")
        try await client.resume("job")
        #expect(try await client.activeRuns(of: "job").isEmpty)
        #expect(attempts.value.count == 1)
    }

    /// A broadcast run is its worker's alone: with that worker gone for good, the leader retires
    /// it (one `abandoned` entry, "worker … left"), paused or not. It had a second entry: the
    /// abandonment recorded first, then the retirement of the run it had left pending.
    @Test(arguments: SchedulerBackend.all)
    func aPausedBroadcastRunWhoseWorkerLeftIsRetiredWithOneEntry(backend: SchedulerBackend) async throws {
        let cluster = try TestCluster(backend)
        defer { Task { await cluster.shutdown() } }
        let (handler, attempts, started, _) = SelfFencingTests.firstAttemptHangs()
        // Lives on, and leads once the other has gone; it cannot run the job, so it has no run of it.
        try await cluster.startWorker("lives", handlers: ["other": { _ in RunOutput() }])
        let (_, doomedStore) = try await cluster.startWorker("doomed", handlers: ["work": handler])
        try await cluster.waitForWorkers(2)
        let client = try await Self.pausedWhileItsBroadcastRuns(cluster, started: started)
        await doomedStore.close()
        _ = try await cluster.waitForRuns(of: "job", "the run to be retired") { $0.isEmpty }
        let history = try await client.history(of: "job")
        #expect(history.map(\.outcome) == [.abandoned])
        #expect(history.first?.message?.contains("worker doomed left") == true, "\(history.first?.message ?? "")")
        #expect(attempts.value.count == 1)
    }

    /// The run was asked to stop (`coord job cancel`) but its handler had not returned when its
    /// worker's session ended: the run ends `cancelled`, with the one entry, and nothing runs it
    /// again, not even after the resume. Paused, the leader settles it; not paused, the other
    /// worker's takeover does, which must keep the request rather than run the run again (a
    /// takeover that skipped it recorded `abandoned` then `succeeded`, and only this case noticed).
    @Test(arguments: SchedulerBackend.all, [true, false])
    func aRunCancelledBeforeItsWorkerWasLostEndsCancelled(backend: SchedulerBackend, paused: Bool) async throws {
        let cluster = try TestCluster(backend)
        defer { Task { await cluster.shutdown() } }
        let attempts = Shared<[Int]>([])
        let started = Signal()
        let release = Signal()
        // Deaf to the stop (a detached wait is not cancelled): the run stays running, its cancel
        // request unanswered, until its worker is lost.
        let deaf: JobHandler = { context in
            attempts.withLock { $0.append(context.attempt) }
            guard context.attempt == 1 else { return RunOutput() }
            started.fire()
            await Task.detached { await release.wait() }.value
            return RunOutput(message: "zombie success")
        }
        defer { release.fire() }
        let (_, doomedStore) = try await cluster.startWorker("doomed", handlers: ["work": deaf])
        let client = try await cluster.client()
        try await client.submit(JobSpec(id: "job", handler: "work", retry: RetryPolicy(maxRetries: 2, backoffBase: .milliseconds(10))))
        try await withDeadline("the first attempt") { await started.wait() }
        try await cluster.startWorker("lives", handlers: ["work": deaf])
        try await cluster.waitForWorkers(2)
        if paused { try await client.pause("job") }
        #expect(try await client.cancel("job").askedToStop.count == 1, "the run was running when cancelled")
        _ = try await cluster.waitForRuns(of: "job", "the cancel request on the run") { $0.first?.cancelRequested == true }
        try await backend.expire(doomedStore)
        _ = try await cluster.waitForRuns(of: "job", "the run to end") { $0.isEmpty }
        let history = try await client.history(of: "job")
        #expect(history.map(\.outcome) == [.cancelled])
        #expect(history.first?.message == "cancelled by request while its worker doomed was lost", "\(history.first?.message ?? "")")
        #expect(history.first?.worker == "doomed" && history.first?.attempt == 1, "the entry names the lost attempt")
        if paused { try await client.resume("job") }
        #expect(try await client.activeRuns(of: "job").isEmpty)
        #expect(attempts.value == [1], "nobody ran the cancelled run again")
    }

    /// A broadcast run's worker lost its session and came back in a new one, under the same id:
    /// the run is still its, and the leader records the lost attempt (`abandoned`) while the job
    /// is paused; after the resume the same worker runs it once more.
    @Test(arguments: SchedulerBackend.all)
    func aPausedBroadcastRunWhoseWorkerCameBackIsAbandonedAndRunsAgainAfterTheResume(backend: SchedulerBackend) async throws {
        let cluster = try TestCluster(backend)
        defer { Task { await cluster.shutdown() } }
        let (handler, attempts, started, cancelled) = SelfFencingTests.firstAttemptHangs()
        // The stabilisation window is long so that the leader does not retire the run (its
        // worker "left") in the moment between the old session's end and the new one's join.
        let window = Duration.seconds(60)
        // Cannot run the job, so it has no run of it; leads once the other's session has ended.
        try await cluster.startWorker("lives", stabilisation: window, handlers: ["other": { _ in RunOutput() }])
        let (_, doomedStore) = try await cluster.startWorker("doomed", stabilisation: window, handlers: ["work": handler])
        try await cluster.waitForWorkers(2)
        let client = try await Self.pausedWhileItsBroadcastRuns(cluster, started: started)
        try await backend.expire(doomedStore)
        try await withDeadline("the first attempt to be stopped") { await cancelled.wait() }
        let runs = try await cluster.waitForRuns(of: "job", "the run to be no longer running") {
            $0.count == 1 && $0[0].status == .pending
        }
        #expect(runs[0].attempt == 2 && runs[0].assignee == "doomed", "the next attempt waits for the same worker")
        let history = try await client.history(of: "job")
        #expect(history.map(\.outcome) == [.abandoned])
        #expect(history.first?.worker == "doomed" && history.first?.token == attempts.value.first?.token, "the entry names the lost attempt")
        #expect(attempts.value.count == 1, "nobody ran the paused job's run")

        try await client.resume("job")
        let after = try await cluster.waitForHistory("the run after the resume") { $0.contains { $0.outcome == .succeeded } }
        #expect(after.map(\.outcome) == [.abandoned, .succeeded])
        _ = try await cluster.waitForRuns(of: "job", "the run to end") { $0.isEmpty }
        let seen = attempts.value
        #expect(seen.map(\.worker) == ["doomed", "doomed"] && seen.map(\.attempt) == [1, 2], "run once after the resume, by its worker")
        #expect(seen.count == 2 && seen[1].token > seen[0].token)
    }

    /// The leader's view has a paused job's run as abandoned while its claim still lives: its
    /// worker's member key was removed by hand (`coord kv rm`), which ends no session. The
    /// leader's write is refused (the claim it creates and deletes exists) and the run is left
    /// as it is. Once the worker's session has ended, taking the claim with it, the membership
    /// change (its worker joining again in a new session) has the leader try again, though the
    /// run is unchanged since the refusal: the abandonment is recorded.
    @Test(arguments: SchedulerBackend.all)
    func aRunRefusedWhileItsClaimLivedIsRecordedOnceTheClaimIsGone(backend: SchedulerBackend) async throws {
        let cluster = try TestCluster(backend)
        defer { Task { await cluster.shutdown() } }
        let (handler, attempts, started, cancelled) = SelfFencingTests.firstAttemptHangs()
        let layout = cluster.layout
        let leaderStore = Shared<RefusedTransactionSignal?>(nil)
        // Leads throughout (started first, it heads the election); cannot run the job.
        try await cluster.startWorker("lives", handlers: ["other": { _ in RunOutput() }]) { base in
            let store = RefusedTransactionSignal(base, code: .nodeExists) { operations in
                operations.contains { if case .create(let key, _, .persistent) = $0 { layout.run(ofClaim: key) != nil } else { false } }
            }
            leaderStore.withLock { $0 = store }
            return store
        }
        let handle = try await cluster.open()
        try await withDeadline("lives to lead") {
            for try await leader in LeaderElection(store: handle, path: layout.leader, identity: "test").leaders()
            where leader?.identityString == "lives" { return }
        }
        let (_, doomedStore) = try await cluster.startWorker("doomed", handlers: ["work": handler])
        let client = try await cluster.client()
        try await client.submit(JobSpec(id: "job", handler: "work", retry: RetryPolicy(maxRetries: 2, backoffBase: .milliseconds(10))))
        try await withDeadline("the first attempt") { await started.wait() }
        try await client.pause("job")
        try await handle.delete(try layout.worker("doomed"), ifVersion: nil, recursive: false)
        let refusals = try #require(leaderStore.value)
        try await withDeadline("the leader's write to be refused") { await refusals.refused.wait() }
        let running = try await client.activeRuns(of: "job")
        #expect(running.map(\.record.status) == [.running], "left as it is while its claim lives")
        #expect(try await client.history(of: "job").isEmpty)

        try await backend.expire(doomedStore)
        try await withDeadline("the first attempt to be stopped") { await cancelled.wait() }
        let runs = try await cluster.waitForRuns(of: "job", "the abandonment to be recorded") {
            $0.count == 1 && $0[0].status == .pending
        }
        #expect(runs[0].attempt == 2, "the next attempt waits")
        let history = try await client.history(of: "job")
        #expect(history.map(\.outcome) == [.abandoned])
        #expect(history.first?.worker == "doomed" && history.first?.token == attempts.value.first?.token, "the entry names the lost attempt")
        #expect(attempts.value.count == 1, "nobody ran the paused job's run")
    }

    /// Submits a broadcast job "job" (handler "work", one retry), triggers it (one run: one worker
    /// is able to run it), waits until `started` says it runs, and pauses the job.
    static func pausedWhileItsBroadcastRuns(_ cluster: TestCluster, started: Signal) async throws -> Scheduler {
        let client = try await cluster.client()
        try await client.submit(
            JobSpec(
                id: "job", handler: "work", schedule: .cron(try CronExpression("0 0 0 1 1 *")), placement: .broadcast,
                retry: RetryPolicy(maxRetries: 1, backoffBase: .milliseconds(10))))
        #expect(try await client.trigger("job").count == 1, "one run, for the one worker able to run it")
        try await withDeadline("the broadcast run to start") { await started.wait() }
        try await client.pause("job")
        return client
    }
}
