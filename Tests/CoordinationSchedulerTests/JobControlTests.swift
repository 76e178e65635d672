import Coordination
import CoordinationTestSupport
import CoordinationScheduler
import Foundation
import Testing

@Suite(.serverLoadLimit) struct JobControlTests {
    @Test(arguments: SchedulerBackend.all)
    func pauseHoldsRunsTriggerAddsOneResumeRunsIt(backend: SchedulerBackend) async throws {
        let cluster = try TestCluster(backend)
        defer { Task { await cluster.shutdown() } }
        let calls = Shared<[String: Int]>([:])
        try await cluster.startWorker("w", handlers: ["noop": countingHandler(calls)])
        let client = try await cluster.client()
        let yearly = try CronExpression("0 0 0 1 1 *")
        try await client.submit(JobSpec(id: "yearly", handler: "noop", schedule: .cron(yearly)))
        try await client.pause("yearly")
        #expect(try await client.job("yearly")?.state.paused == true)
        let incarnation = try #require(try await client.job("yearly")?.state.incarnation)
        let triggered = try await client.trigger("yearly")
        #expect(triggered == ["t-0000000001-000-\(incarnation)"])
        // Paused: the triggered run waits (a bounded look, nothing should happen).
        await #expect(throws: CoordinationError.self) {
            _ = try await withDeadline("a paused run to be claimed", limit: .milliseconds(300)) {
                try await cluster.waitForHistory("anything") { !$0.isEmpty }
            }
        }
        #expect(try await client.activeRuns(of: "yearly").map(\.record.status) == [.pending])
        try await client.resume("yearly")
        let history = try await cluster.waitForHistory("the triggered run") { !$0.isEmpty }
        #expect(history.map(\.run) == ["t-0000000001-000-\(incarnation)"])
        #expect(history.map(\.outcome) == [.succeeded])
        #expect(try await client.trigger("yearly") == ["t-0000000002-000-\(incarnation)"])
        _ = try await cluster.waitForHistory("the second trigger") { $0.count == 2 }
    }

    /// Resuming a job that is not paused changes nothing. It moved the job's last fire time up to
    /// now, so fire times no leader had materialised yet (none was leading) vanished without a
    /// trace, whatever the misfire policy said.
    @Test(arguments: SchedulerBackend.all)
    func resumingAJobThatIsNotPausedLosesNoFireTime(backend: SchedulerBackend) async throws {
        let (start, clock, cluster, client) = try await Self.ticking(backend)
        defer { Task { await cluster.shutdown() } }
        clock.advance(by: 3.2)  // +1, +2 and +3 pass with no leader; +3 is only 0.2 s late
        try await client.resume("tick")
        #expect(try await client.job("tick")?.state.lastMaterialized == nil)
        try await cluster.startWorker("w", handlers: ["noop": { _ in RunOutput() }])
        let history = try await cluster.waitForHistory("the fire time +3") { successes("tick")($0) }
        #expect(history.first { $0.outcome == .succeeded }?.scheduledAt == start.addingTimeInterval(3))
        #expect(history.contains { $0.outcome == .skipped && $0.message?.hasPrefix("2 fire time(s)") == true })
    }

    /// Which fire times were paused, the leader decides on its own clock. The client's time of
    /// the resume, taken as is, made a client clock 30 s ahead of the leader's pause the job for
    /// 30 s more: its fire times never ran, and nothing said so.
    @Test(arguments: SchedulerBackend.all)
    func resumingFromAClientClockAheadOfTheLeadersLosesNoFireTime(backend: SchedulerBackend) async throws {
        let (start, clock, cluster, client) = try await Self.ticking(backend)
        defer { Task { await cluster.shutdown() } }
        try await client.pause("tick")
        try await cluster.startWorker("w", handlers: ["noop": { _ in RunOutput() }])
        clock.advance(by: 2.5)  // +1 and +2 pass paused
        let ahead = Scheduler(
            store: try await cluster.open(), layout: cluster.layout,
            clock: WallClock(now: { clock.now.addingTimeInterval(30) }, sleepUntil: { _ in }))
        try await ahead.resume("tick")
        let settled = try await cluster.waitForState(of: "tick", "the leader to settle the resume") { !$0.paused && $0.resumedAt == nil }
        #expect(settled.lastMaterialized == start.addingTimeInterval(2.5))
        clock.advance(by: 0.5)
        let history = try await cluster.waitForHistory("the fire time +3") { successes("tick")($0) }
        #expect(history.first { $0.outcome == .succeeded }?.scheduledAt == start.addingTimeInterval(3))
        #expect(!history.contains { $0.outcome == .skipped }, "paused fire times are not misfires")
    }

    /// A cluster on a manual clock, with no worker yet, and a client that submitted `tick`, a
    /// cron job every second.
    static func ticking(_ backend: SchedulerBackend) async throws -> (Date, ManualWallClock, TestCluster, Scheduler) {
        let start = Date(timeIntervalSince1970: 1_800_000_000)
        let clock = ManualWallClock(start)
        let cluster = try TestCluster(backend, clock: clock.wallClock)
        let client = try await cluster.client()
        try await client.submit(JobSpec(id: "tick", handler: "noop", schedule: .cron(try CronExpression("* * * * * *"))))
        return (start, clock, cluster, client)
    }

    @Test(arguments: SchedulerBackend.all)
    func cancelRemovesPendingRunsAndStopsRunningOnes(backend: SchedulerBackend) async throws {
        let cluster = try TestCluster(backend)
        defer { Task { await cluster.shutdown() } }
        let started = Signal()
        let wasCancelled = Shared(false)
        let waitForever: JobHandler = { _ in
            started.fire()
            do { try await Task.sleep(for: .seconds(3600)) } catch { wasCancelled.withLock { $0 = true } }
            throw CancellationError()
        }
        try await cluster.startWorker("w", handlers: ["wait": waitForever])
        let client = try await cluster.client()
        try await client.submit(JobSpec(id: "later", handler: "wait", schedule: .once(at: Date().addingTimeInterval(3600))))
        try await client.submit(JobSpec(id: "now", handler: "wait"))
        try await withDeadline("the run to start") { await started.wait() }
        // What `coord workers` counts load from: every job's active runs.
        let active = try await client.allActiveRuns()
        #expect(active.keys.sorted() == ["later", "now"])
        #expect(active["now"]?.map(\.record.status) == [.running] && active["now"]?.first?.record.worker == "w")
        #expect(active["later"]?.map(\.record.status) == [.pending])
        try await client.cancel("later")
        try await client.cancel("now")
        let history = try await cluster.waitForHistory("two cancellations") { $0.filter { $0.outcome == .cancelled }.count == 2 }
        #expect(Set(history.map(\.job)) == ["later", "now"])
        #expect(wasCancelled.value, "the running handler was cancelled")
        #expect(try await client.activeRuns(of: "later").isEmpty)
        _ = try await cluster.waitForRuns(of: "now", "the cancelled run to be gone") { $0.isEmpty }

        try await client.remove("now")
        #expect(try await client.job("now") == nil)
        #expect(try await client.history(of: "now").isEmpty)
        #expect(try await client.jobs().map(\.spec.id) == ["later"])
        await #expect(throws: CoordinationError.self) { try await client.pause("now") }
    }

    @Test(arguments: SchedulerBackend.all)
    func submittingTwiceIsRefusedAndProgressIsRecorded(backend: SchedulerBackend) async throws {
        let cluster = try TestCluster(backend)
        defer { Task { await cluster.shutdown() } }
        let progressed = Signal()
        let proceed = Signal()
        let reporting: JobHandler = { context in
            try await context.progress("half way")
            progressed.fire()
            await proceed.wait()
            return RunOutput(message: "done")
        }
        try await cluster.startWorker("w", handlers: ["report": reporting])
        let client = try await cluster.client()
        try await client.submit(JobSpec(id: "job", handler: "report"))
        await #expect(throws: CoordinationError.self) { try await client.submit(JobSpec(id: "job", handler: "report")) }
        try await withDeadline("progress") { await progressed.wait() }
        let run = try #require(try await client.activeRuns(of: "job").first)
        #expect(run.record.progress == "half way")
        #expect(run.record.worker == "w")
        #expect(run.token != nil)
        proceed.fire()
        let history = try await cluster.waitForHistory("success") { !$0.isEmpty }
        #expect(history.first?.token == run.token)
        #expect(history.first?.message == "done")
    }
}

@Suite(.serverLoadLimit) struct ActivityTests {
    @Test(arguments: SchedulerBackend.all)
    func activityShowsARunFromPendingToItsHistoryEntry(backend: SchedulerBackend) async throws {
        let cluster = try TestCluster(backend)
        defer { Task { await cluster.shutdown() } }
        let client = try await cluster.client()
        try await client.submit(JobSpec(id: "before", handler: "noop"))  // pending, no worker yet
        let seen = try await withDeadline("the run to finish") {
            var activity = client.activity().makeAsyncIterator()
            var seen: [String] = []
            guard case .run(let existing) = try await activity.next() else { return ["no existing run first"] }
            seen.append("existing \(existing.record.job) \(existing.record.status.rawValue)")
            // The handler holds its claim until the claim has been seen: a run shorter than a watch
            // round trip may pass unseen on ZooKeeper, whose watches report states, not every step.
            let claimSeen = Signal()
            try await cluster.startWorker("w", handlers: ["noop": { _ in
                await claimSeen.wait()
                return RunOutput(message: "fine")
            }])
            while let next = try await activity.next() {
                switch next {
                case .run(let run):
                    seen.append("\(run.record.status.rawValue)\(run.token == nil ? "" : "+token")")
                    if run.token != nil && run.record.status == .running { claimSeen.fire() }
                case .runEnded(let job, _): seen.append("ended \(job)")
                case .finished(let entry): seen.append("\(entry.outcome.rawValue) \(entry.message ?? "")")
                }
                if seen.contains("ended before") && seen.contains("succeeded fine") { return seen }
            }
            return seen
        }
        #expect(seen.first == "existing before pending")
        #expect(seen.contains("running+token"), "the claim shows with its token: \(seen)")
        #expect(seen.contains("ended before"))
        #expect(!seen.contains("pending+token"))
    }

    /// The runs and the history are two watches; the retry and the failure it follows are one
    /// transaction, and the stream reports them in that order.
    @Test(arguments: SchedulerBackend.all)
    func activityReportsAFailureBeforeTheRetryItCauses(backend: SchedulerBackend) async throws {
        let cluster = try TestCluster(backend)
        defer { Task { await cluster.shutdown() } }
        let client = try await cluster.client()
        try await client.submit(JobSpec(id: "flaky", handler: "fail", retry: RetryPolicy(maxRetries: 2, backoffBase: .milliseconds(10))))
        let seen = try await withDeadline("three attempts to end") {
            var activity = client.activity().makeAsyncIterator()
            // The stream reports what happens once it is live: the pending run first, then the worker.
            guard case .run(let existing) = try await activity.next() else { return ["no existing run first"] }
            var seen = ["\(existing.record.status.rawValue) \(existing.record.attempt)"]
            try await cluster.startWorker("w", handlers: ["fail": { _ in throw RunFailure("no luck") }])
            while let next = try await activity.next() {
                switch next {
                case .run(let run): seen.append("\(run.record.status.rawValue) \(run.record.attempt)")
                case .runEnded: seen.append("ended")
                case .finished(let entry): seen.append("\(entry.outcome.rawValue) \(entry.attempt ?? 0)")
                }
                if seen.contains("ended") && seen.contains("failed 3") { return seen }
            }
            return seen
        }
        // Each later attempt shows only after the failure before it.
        for attempt in 2...3 {
            let failure = try #require(seen.firstIndex(of: "failed \(attempt - 1)"), "\(seen)")
            let next = seen.firstIndex { $0.hasSuffix(" \(attempt)") && !$0.hasPrefix("failed") }
            #expect(next.map { $0 > failure } ?? true, "attempt \(attempt) before the failure of the one before: \(seen)")
        }
    }
}
