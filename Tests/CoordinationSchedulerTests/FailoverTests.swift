import Coordination
import CoordinationTestSupport
import CoordinationRecipes
import CoordinationScheduler
import Foundation
import Testing

@Suite(.serverLoadLimit) struct FailoverTests {
    @Test(arguments: SchedulerBackend.all)
    func anExpiredWorkersRunIsCancelledTakenOverAndFenced(backend: SchedulerBackend) async throws {
        let cluster = try TestCluster(backend)
        defer { Task { await cluster.shutdown() } }
        let started = Signal()
        let cancelled = Signal()
        let firstContext = Shared<RunContext?>(nil)
        let tokens = Shared<[Int64]>([])
        let starts = Shared<[ContinuousClock.Instant]>([])
        let handler: JobHandler = { context in
            tokens.withLock { $0.append(context.fencingToken) }
            starts.withLock { $0.append(.now) }
            guard context.attempt == 1 else { return RunOutput(message: "second attempt") }
            firstContext.withLock { $0 = context }
            started.fire()
            do {
                try await Task.sleep(for: .seconds(3600))
            } catch {
                cancelled.fire()
                throw error
            }
            return RunOutput()
        }
        let (_, firstStore) = try await cluster.startWorker("first", handlers: ["work": handler])
        let client = try await cluster.client()
        try await client.submit(JobSpec(id: "job", handler: "work", retry: RetryPolicy(maxRetries: 2, backoffBase: .milliseconds(10))))
        try await withDeadline("the first attempt to start") { await started.wait() }
        try await cluster.startWorker("second", handlers: ["work": handler])

        // The takeover is driven by the claim's delete event: time it from there (forcing an
        // expiry can itself take a while on ZooKeeper, where a second handle must win the session).
        let observer = try await cluster.open()
        let layout = cluster.layout
        let claimGone = Task {
            for try await event in observer.watch(layout.jobs, scope: .subtree) {
                if case .delete(let key) = event, layout.run(ofClaim: key) != nil { return ContinuousClock.now }
            }
            throw CoordinationError(.unavailable, "jobs watch ended")
        }
        try await withDeadline("the claim watch to start") {
            for try await event in observer.watch(layout.jobs, scope: .subtree) { if case .snapshot = event { return } }
        }
        // The handler's view of its claim's session (`RunContext.session`): safe while the session
        // lives, expired for good once the store has lost it (even after it starts a new one).
        #expect(try #require(firstContext.value).session.isSafe())
        let claimSession = try #require(firstContext.value).session.sessionID
        try await backend.expire(firstStore)
        try await withDeadline("the first attempt to be cancelled") { await cancelled.wait() }
        // The takeover's end (its run's record deleted) may stop the first attempt before its
        // handle has learned that its session ended (on etcd, at its next keep-alive).
        let noticed = await firstStore.waitForSession(within: .seconds(30)) { $0.sessionID != claimSession || $0.state == .expired }
        #expect(noticed != nil, "the first worker's handle never learned that its session ended")
        let lost = try #require(firstContext.value).session
        #expect(lost.state == .expired && !lost.isSafe(), "\(lost)")
        let history = try await cluster.waitForHistory("abandoned then succeeded") { entries in
            entries.contains { $0.outcome == .succeeded }
        }
        #expect(history.map(\.outcome) == [.abandoned, .succeeded])
        #expect(history.map(\.attempt) == [1, 2])
        // The takeover follows the claim's delete event, not a later resync or timeout. The issue's
        // figure (p99 within TTL + 500 ms after a worker dies) is measured on a quiet machine and
        // printed here; beside the whole parallel suite on two cores the bound is looser.
        let deletedAt = try await withDeadline("the claim's delete event") { try await claimGone.value }
        let takeover = deletedAt.duration(to: try #require(starts.value.last))
        #expect(takeover < .seconds(2) * 3, "taken over \(takeover) after the claim was deleted")
        FileHandle.standardError.write(Data("takeover on \(backend.name): \(takeover) after the claim's deletion\n".utf8))
        let allTokens = tokens.value
        #expect(allTokens.count == 2)
        #expect(allTokens[1] > allTokens[0], "the takeover's fencing token is strictly larger")
        #expect(history.last?.token == allTokens[1])
        // The abandoned attempt's token is recorded when the taker had seen its claim (it may
        // have started watching only after the claim vanished).
        #expect(history.first?.token == nil || history.first?.token == allTokens[0])
        #expect(history.first?.worker == "first")

        // The stale attempt can never write about the run again.
        let stale = try #require(firstContext.value)
        await #expect(throws: SchedulerError.fenced(job: "job", run: stale.run)) { try await stale.progress("zombie") }
        #expect(try await client.activeRuns(of: "job").isEmpty)
    }

    @Test(arguments: SchedulerBackend.all)
    func gracefulShutdownHandsBackUnfinishedRuns(backend: SchedulerBackend) async throws {
        let cluster = try TestCluster(backend)
        defer { Task { await cluster.shutdown() } }
        let started = Signal()
        let slow: JobHandler = { _ in
            started.fire()
            try await Task.sleep(for: .seconds(3600))
            return RunOutput()
        }
        try await cluster.startWorker("leaving", gracePeriod: .milliseconds(100), handlers: ["work": slow])
        let client = try await cluster.client()
        try await client.submit(JobSpec(id: "job", handler: "work"))
        try await withDeadline("the run to start") { await started.wait() }
        try await cluster.stopWorker("leaving")

        let runs = try await client.activeRuns(of: "job")
        #expect(runs.count == 1)
        #expect(runs.first?.record.status == .pending, "handed back")
        #expect(runs.first?.record.attempt == 1, "a hand-back is not a failed attempt")
        #expect(runs.first?.token == nil, "its claim was deleted")
        #expect(try await client.workers().isEmpty, "the worker left the group")

        try await cluster.startWorker("next", handlers: ["work": { _ in RunOutput(message: "done") }])
        let history = try await cluster.waitForHistory("the run to finish elsewhere") { $0.contains { $0.outcome == .succeeded } }
        // The attempt given up is in the history, by its worker and token, at the same attempt.
        #expect(history.map(\.worker) == ["leaving", "next"])
        #expect(history.map(\.outcome) == [.handedBack, .succeeded])
        #expect(history.map(\.attempt) == [1, 1])
        #expect(history.first?.token != nil && history.first?.token != history.last?.token)
        #expect(history.first?.message == "its worker stopped before the run ended; the run waits, pending, for another worker")
    }

    /// A run handed back again and again (workers that keep stopping) records its hand-backs
    /// only while they fit beside the result still to come: the history stays within its limit,
    /// and the result is kept.
    @Test(arguments: SchedulerBackend.all)
    func repeatedHandBacksKeepTheHistoryBounded(backend: SchedulerBackend) async throws {
        let cluster = try TestCluster(backend, layout: SchedulerLayout(historyLimit: 3))
        defer { Task { await cluster.shutdown() } }
        let started = Shared(0)
        let (starts, start) = AsyncStream<Void>.makeStream()
        let slow: JobHandler = { _ in
            started.withLock { $0 += 1 }
            start.yield()
            try await Task.sleep(for: .seconds(3600))
            return RunOutput()
        }
        let client = try await cluster.client()
        try await client.submit(JobSpec(id: "job", handler: "work"))
        var startEvents = starts.makeAsyncIterator()
        for round in 0..<5 {
            try await cluster.startWorker("w\(round)", gracePeriod: .milliseconds(50), handlers: ["work": slow])
            _ = await startEvents.next()
            try await cluster.stopWorker("w\(round)")
        }
        #expect(try await client.history(of: "job").map(\.worker) == ["w0", "w1"], "the hand-backs that fit beside the result")
        try await cluster.startWorker("last", handlers: ["work": { _ in RunOutput(message: "done") }])
        let history = try await cluster.waitForHistory("the run to end") { $0.contains { $0.outcome == .succeeded } }
        #expect(history.map(\.outcome) == [.handedBack, .handedBack, .succeeded], "\(history.map(\.outcome))")
        #expect(started.withLock { $0 } == 5)
    }
}

@Suite(.serverLoadLimit) struct SelfFencingTests {
    // Memory only: suspending one handle of a shared ZooKeeper or etcd server needs a network fault
    // of its own; the chaos suite (SIGSTOP of a worker process) covers that on the real servers.
    /// A handler that records every attempt (worker, attempt, token) and hangs in the first until
    /// cancelled, then claims success anyway ("zombie success"), which must change nothing.
    static func firstAttemptHangs() -> (
        handler: JobHandler, attempts: Shared<[(worker: String, attempt: Int, token: Int64)]>, started: Signal, cancelled: Signal
    ) {
        let started = Signal()
        let cancelled = Signal()
        let attempts = Shared<[(worker: String, attempt: Int, token: Int64)]>([])
        let handler: JobHandler = { context in
            attempts.withLock { $0.append((context.worker, context.attempt, context.fencingToken)) }
            guard context.attempt == 1 else { return RunOutput() }
            started.fire()
            do { try await Task.sleep(for: .seconds(3600)) } catch { cancelled.fire() }
            return RunOutput(message: "zombie success")
        }
        return (handler, attempts, started, cancelled)
    }

    /// A worker suspended past its TTL cancels its run, writes nothing, and, once contact is back, registers again under
    /// the same id. The run is taken over by another worker or, with none, by the worker itself
    /// once it has joined again: the run, still as its own claim left it, is abandoned by its new
    /// registration, and its refused end must not keep the run out of its own queue.
    @Test(arguments: [false, true])
    func aSuspendedWorkerCancelsItsRunWritesNothingAndRejoins(alone: Bool) async throws {
        let backend = SchedulerBackend.memory
        let cluster = try TestCluster(backend, sessionTTL: TestCluster.quickTakeover)
        defer { Task { await cluster.shutdown() } }
        let (handler, attempts, started, cancelled) = Self.firstAttemptHangs()
        let (_, suspended) = try await cluster.startWorker("suspended", handlers: ["work": handler])
        let client = try await cluster.client()
        try await client.submit(JobSpec(id: "job", handler: "work", retry: RetryPolicy(maxRetries: 1, backoffBase: .milliseconds(10))))
        try await withDeadline("the first attempt") { await started.wait() }
        if !alone { try await cluster.startWorker("healthy", handlers: ["work": handler]) }
        try await cluster.cutOffPastItsSession(worker: "suspended", store: suspended)
        try await withDeadline("the suspended worker to cancel its run") { await cancelled.wait() }
        let history = try await cluster.waitForHistory("the takeover to succeed") { $0.contains { $0.outcome == .succeeded } }
        #expect(history.map(\.outcome) == [.abandoned, .succeeded])
        #expect(!history.contains { $0.message == "zombie success" }, "the fenced-off attempt wrote nothing")
        let seen = attempts.value
        #expect(seen.count == 2 && seen[1].token > seen[0].token)
        if alone { #expect(seen.map(\.worker) == ["suspended", "suspended"]) }
        // After its session expired the worker registers again under the same id.
        try await cluster.waitForWorkers(alone ? 1 : 2)
        #expect(Set(try await client.workers().map(\.id)) == (alone ? ["suspended"] : ["suspended", "healthy"]))
    }
}

@Suite(.serverLoadLimit) struct HistoryBoundTests {
    @Test(arguments: SchedulerBackend.all)
    func historyIsBoundedPerJobUnderAConfigurableRoot(backend: SchedulerBackend) async throws {
        let layout = SchedulerLayout(root: try Key("/elsewhere"), historyLimit: 3)
        let cluster = try TestCluster(backend, layout: layout)
        defer { Task { await cluster.shutdown() } }
        let calls = Shared<[String: Int]>([:])
        try await cluster.startWorker("w", handlers: ["noop": countingHandler(calls)])
        let client = try await cluster.client()
        try await client.submit(JobSpec(id: "job", handler: "noop"))
        let incarnation = try #require(try await client.job("job")?.state.incarnation)
        for number in 1...6 {
            try await client.trigger("job")
            _ = try await cluster.waitForHistory("trigger \(number)") { $0.last?.run == "t-000000000\(number)-000-\(incarnation)" }
        }
        let history = try await client.history(of: "job")
        #expect(
            history.map(\.run) == [4, 5, 6].map { "t-000000000\($0)-000-\(incarnation)" }, "the newest three")
        #expect(try await client.lastHistoryEntry(of: "job") == history.last)
        let overview = try await client.overview().jobs
        #expect(overview.map(\.job.spec.id) == ["job"] && overview.first?.last == history.last && overview.first?.activeRuns == 0)
        #expect(calls.value.count == 7)
        let store = try await cluster.open()
        #expect(try await store.exists(try Key("/elsewhere/jobs/\(SchedulerLayout.bucket(of: "job"))/job")))
        #expect(try await !store.exists(try Key("/scheduler")))
    }
}

@Suite(.serverLoadLimit) struct ExhaustedTakeoverTests {
    @Test(arguments: SchedulerBackend.all)
    func anAbandonedRunWithoutRetriesLeftEndsAsAbandoned(backend: SchedulerBackend) async throws {
        let cluster = try TestCluster(backend)
        defer { Task { await cluster.shutdown() } }
        let started = Signal()
        let calls = Shared(0)
        let token = Shared<Int64?>(nil)
        let handler: JobHandler = { context in
            calls.withLock { $0 += 1 }
            token.withLock { $0 = context.fencingToken }
            started.fire()
            try await Task.sleep(for: .seconds(3600))
            return RunOutput()
        }
        let (_, doomed) = try await cluster.startWorker("doomed", handlers: ["work": handler])
        let client = try await cluster.client()
        try await client.submit(JobSpec(id: "job", handler: "work", retry: RetryPolicy(maxRetries: 0)))
        try await withDeadline("the attempt to start") { await started.wait() }
        try await cluster.startWorker("survivor", handlers: ["work": handler])
        try await backend.expire(doomed)
        let history = try await cluster.waitForHistory("the final entry") { !$0.isEmpty }
        #expect(history.map(\.outcome) == [.abandoned])
        #expect(history.first?.message?.contains("no retries left") == true)
        #expect(history.first?.attempt == 1)
        // The entry is the lost attempt's (it may have done its work before its session ended):
        // its worker and fencing token, not the survivor's, which only closed the run.
        #expect(history.first?.worker == "doomed")
        #expect(history.first?.token != nil && history.first?.token == token.value)
        _ = try await cluster.waitForRuns(of: "job", "the run to be deleted") { $0.isEmpty }
        #expect(calls.value == 1, "not run again")
    }
}

/// One worker on a store whose transactions fail the way networks and servers do: every job
/// must still run exactly once, never stay stuck under a claim nobody works on or unclaimed.
@Suite(.serverLoadLimit) struct FaultyStoreTests {
    /// Submits one job for a single worker on `wrap(store)`; its history once written, and how
    /// many times the handler ran.
    func runOneJob(
        _ backend: SchedulerBackend, on wrap: (any CoordinationStore, SchedulerLayout) -> any CoordinationStore
    ) async throws -> (history: [HistoryEntry], calls: Int?) {
        let cluster = try TestCluster(backend)
        defer { Task { await cluster.shutdown() } }
        let calls = Shared<[String: Int]>([:])
        let store = wrap(try await cluster.open(), cluster.layout)
        let worker = try Worker(store: store, layout: cluster.layout, id: "w", handlers: ["noop": countingHandler(calls)])
        let task = Task { try await worker.run() }
        defer { task.cancel() }
        let client = try await cluster.client()
        try await client.submit(JobSpec(id: "job", handler: "noop"))
        let history = try await cluster.waitForHistory("the run") { !$0.isEmpty }
        return (history, calls.value.values.first)
    }

    @Test(arguments: SchedulerBackend.all)
    func aClaimWhoseReplyWasLostIsRecognisedAndRun(backend: SchedulerBackend) async throws {
        let (history, calls) = try await runOneJob(backend) { store, _ in
            FaultyTransactionStore(store, .replyLost, count: 1, when: FaultyTransactionStore.claim)
        }
        #expect(history.map(\.outcome) == [.succeeded], "not stuck under a claim nobody works on")
        #expect(calls == 1)
    }

    /// The claim's reply is lost and so are the reads that look for it afterwards: the worker
    /// keeps looking (its session lives on) instead of leaving a claim that landed unworked.
    @Test(arguments: SchedulerBackend.all)
    func aClaimWhoseReplyAndFollowUpReadsWereLostIsStillRecognised(backend: SchedulerBackend) async throws {
        let (history, calls) = try await runOneJob(backend) { store, _ in
            FaultyTransactionStore(store, .replyLost, count: 1, failingReads: 5, when: FaultyTransactionStore.claim)
        }
        #expect(history.map(\.outcome) == [.succeeded], "not stuck under a claim nobody works on")
        #expect(calls == 1)
    }

    /// The claim times out and lands only after the worker's read that looks for it (a request
    /// the server had not committed yet): that read is no proof it failed, or the run would sit
    /// under the worker's live claim, held, with nobody at work on it while its session lasts.
    @Test(arguments: SchedulerBackend.all)
    func aClaimThatLandsAfterTheReadLookingForItIsStillRun(backend: SchedulerBackend) async throws {
        let late = Shared<LateLandingTransactionStore?>(nil)
        let (history, calls) = try await runOneJob(backend) { store, _ in
            let wrapped = LateLandingTransactionStore(store, when: FaultyTransactionStore.claim)
            late.withLock { $0 = wrapped }
            return wrapped
        }
        #expect(late.value?.hasLanded == true, "the claim was held back and landed late")
        #expect(history.map(\.outcome) == [.succeeded], "not stuck under a claim nobody works on")
        #expect(calls == 1)
    }

    /// The claim fails for want of a server (no race lost, nothing about the run changes
    /// afterwards, and the session never ends): the worker must try again, not wait for a change
    /// that will never come.
    @Test(arguments: SchedulerBackend.all)
    func aClaimThatFailedForAStoreErrorIsTriedAgain(backend: SchedulerBackend) async throws {
        let (history, calls) = try await runOneJob(backend) { store, _ in
            FaultyTransactionStore(store, .refused, count: 1, when: FaultyTransactionStore.claim)
        }
        #expect(history.map(\.outcome) == [.succeeded], "not left unclaimed after a failed claim")
        #expect(calls == 1)
    }

    /// The write that ends the run fails many times over (a long election): the worker keeps its
    /// claim and tries until it lands, rather than leaving the run under a claim nobody works on.
    @Test(arguments: SchedulerBackend.all)
    func theEndOfARunIsWrittenThroughALongRunOfStoreErrors(backend: SchedulerBackend) async throws {
        let (history, calls) = try await runOneJob(backend) { store, layout in
            FaultyTransactionStore(store, .refused, count: 10, when: FaultyTransactionStore.releasesClaim(in: layout))
        }
        #expect(history.map(\.outcome) == [.succeeded])
        #expect(calls == 1, "run once, not again")
    }

    /// Contact is lost as the run's end is written, and the session is past its safe window when
    /// the worker looks, yet comes back before the server ends it: the claim lives, so the end
    /// must be written once contact is back. Given up, the run would sit under the claim, held,
    /// with nobody at work on it, for as long as the worker's session lasts.
    @Test(arguments: SchedulerBackend.all)
    func theEndOfARunIsWrittenWhenContactComesBackJustPastTheSafeWindow(backend: SchedulerBackend) async throws {
        let cutOff = Shared<CutOffPastSafeWindowStore?>(nil)
        let (history, calls) = try await runOneJob(backend) { store, layout in
            let wrapped = CutOffPastSafeWindowStore(store, when: FaultyTransactionStore.releasesClaim(in: layout))
            cutOff.withLock { $0 = wrapped }
            return wrapped
        }
        #expect(cutOff.value?.cameBack == true, "contact was lost as the end was written, then came back")
        #expect(history.map(\.outcome) == [.succeeded], "not stuck under a claim nobody works on")
        #expect(calls == 1)
    }

    /// A time-out of the write that ends the run, blamed on its first operation (the fence's
    /// check), is no refusal by the fence: the worker must not give the run up while its claim
    /// lives, or the run would sit under a claim nobody works on until the worker's session ends.
    @Test(arguments: SchedulerBackend.all)
    func aTimedOutEndOfRunIsNotTakenForAFenceRefusal(backend: SchedulerBackend) async throws {
        let (history, calls) = try await runOneJob(backend) { store, layout in
            FaultyTransactionStore(store, .timedOutNamingAnOperation, count: 2, when: FaultyTransactionStore.releasesClaim(in: layout))
        }
        #expect(history.map(\.outcome) == [.succeeded])
        #expect(calls == 1, "run once, not again")
    }
}
