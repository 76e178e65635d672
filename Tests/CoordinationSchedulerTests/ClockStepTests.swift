import Coordination
import CoordinationTestSupport
import Foundation
import Synchronization
import Testing

@testable import CoordinationScheduler

/// The leader's wall clock is stepped (NTP, an operator) while it waits for a fire time.
@Suite(.serverLoadLimit) struct ClockStepTests {
    static let start = Date(timeIntervalSince1970: 1_800_000_000)

    /// Virtual time for ``WallClock/realtime(now:sleep:)``: a sleep moves it on at once (nothing
    /// real waits), and the wall clock read from it is stepped by `step` seconds once `stepAt`
    /// seconds have passed. Time stops at `end`: a sleep past it waits until cancelled.
    final class SteppedTime: Sendable {
        let stepAt: TimeInterval
        let step: TimeInterval
        let end: TimeInterval
        private let elapsed = Mutex<TimeInterval>(0)

        init(stepAt: TimeInterval, by step: TimeInterval, end: TimeInterval) {
            self.stepAt = stepAt
            self.step = step
            self.end = end
        }

        func now() -> Date {
            let elapsed = elapsed.withLock { $0 }
            return ClockStepTests.start.addingTimeInterval(elapsed + (elapsed >= stepAt ? step : 0))
        }

        func sleep(_ duration: Duration) async throws {
            let moved = elapsed.withLock { elapsed in
                guard elapsed + duration.seconds <= end else { return false }
                elapsed += duration.seconds
                return true
            }
            guard moved else {
                while true { try await Task.sleep(for: .seconds(60)) }
            }
            await Task.yield()
            try Task.checkCancellation()
        }

        var wallClock: WallClock { .realtime(now: { [self] in now() }, sleep: { [self] in try await sleep($0) }) }
    }

    /// An hourly job, and the leader's clock stepped 10 s into its wait for the first fire time.
    /// Stepped forward, the leader slept on for the whole hour and found the fire time 1000 s
    /// late, a misfire (skipped under `skip`); stepped back, it woke before the fire time, kept
    /// the timer that had just fired as if it were still to come, and never woke again.
    @Test(arguments: SchedulerBackend.all, [1000.3, -1800])
    func aSteppedClockFiresTheFireTimeWhenItComesOnce(backend: SchedulerBackend, step: TimeInterval) async throws {
        let time = SteppedTime(stepAt: 10, by: step, end: 3600 + max(0, -step))
        let cluster = try TestCluster(backend, clock: time.wallClock)
        defer { Task { await cluster.shutdown() } }
        let client = try await cluster.client()
        try await client.submit(JobSpec(id: "hourly", handler: "h", schedule: .every(.seconds(3600), start: nil), misfire: .skip))
        // No finished-job sweep: its passes would wake the leader along the way.
        try await cluster.startWorker("w", finishedJobRetention: nil, finishedJobLimit: nil, handlers: ["h": { _ in RunOutput() }])
        let history = try await cluster.waitForHistory("the first fire time", limit: .seconds(20)) { $0.contains { $0.job == "hourly" } }
        #expect(history.map(\.outcome) == [.succeeded])
        #expect(history.first?.scheduledAt == Self.start.addingTimeInterval(3600))
    }

    /// The system clock's wait that a step back ends (a retry's): it ends at the step, where the
    /// plain wait goes on (``aSteppedClockFiresTheFireTimeWhenItComesOnce(backend:step:)``).
    @Test func aWaitThatEndsOnAStepBackEndsAtTheStep() async throws {
        let time = SteppedTime(stepAt: 10, by: -1800, end: 100_000)
        try await time.wallClock.sleepUntilOrStepBack(Self.start.addingTimeInterval(3600))
        #expect(time.now() == Self.start.addingTimeInterval(10 - 1800))
    }

    /// A job's successful runs' fire times, and its skipped entries' messages, in history order.
    static func outcomes(of job: String, in history: [HistoryEntry]) -> (ran: [Date?], skipped: [String?]) {
        let entries = history.filter { $0.job == job }
        return (entries.filter { $0.outcome == .succeeded }.map(\.scheduledAt), entries.filter { $0.outcome == .skipped }.map(\.message))
    }

    /// The clock steps back (an NTP correction: an hour, or a few seconds) just after a fire time
    /// ran, and comes round to that time again. A fire time is a wall-clock instant and its run id
    /// says which: one that ran never runs again (the job's `lastMaterialized` is past it), and the
    /// next runs when the clock reads it, neither earlier nor later. So a minutely job stepped
    /// back an hour has no run for that hour: the minutes it repeats have run.
    @Test(arguments: SchedulerBackend.all, [3600.0, 5])
    func aFireTimeThatRanDoesNotRunAgainWhenTheClockStepsBack(backend: SchedulerBackend, step: TimeInterval) async throws {
        let clock = ManualWallClock(Self.start)
        let cluster = try TestCluster(backend, clock: clock.wallClock)
        defer { Task { await cluster.shutdown() } }
        let calls = Shared<[Date: Int]>([:])
        try await cluster.startWorker(
            "w", finishedJobRetention: nil, finishedJobLimit: nil,
            handlers: ["tick": CronAndMisfireTests.fireTimeCounter(calls), "poke": { _ in RunOutput() }])
        let client = try await cluster.client()
        try await client.submit(JobSpec(id: "minutely", handler: "tick", schedule: .cron(try CronExpression("0 * * * * *"))))
        try await client.submit(JobSpec(id: "rate", handler: "tick", schedule: .every(.seconds(60), start: nil)))
        clock.advance(by: 60)
        _ = try await cluster.waitForHistory("the first fire time") { successes("minutely")($0) && successes("rate")($0) }

        clock.stepBack(by: step)
        clock.advance(by: step)  // the clock reads the fire time that ran again
        // A job's submission makes the leader look at every job's fire times, with the clock there.
        try await client.submit(JobSpec(id: "poke", handler: "poke"))
        _ = try await cluster.waitForHistory("the leader's pass") { successes("poke")($0) }
        clock.advance(by: 60)
        let history = try await cluster.waitForHistory("the next fire time") { successes("minutely", 2)($0) && successes("rate", 2)($0) }
        let expected = [60.0, 120].map { Self.start.addingTimeInterval($0) }
        for job in ["minutely", "rate"] {
            #expect(Self.outcomes(of: job, in: history).ran == expected, "\(job): each fire time once")
            #expect(Self.outcomes(of: job, in: history).skipped.isEmpty, "\(job): nothing missed")
        }
        #expect(calls.value == Dictionary(uniqueKeysWithValues: expected.map { ($0, 2) }))
    }

    /// The clock steps forward past several fire times while the leader waits for the next: the
    /// misfire policy applies once, as after an outage (one run for the latest under
    /// fire-once-now, none under skip, one skipped entry naming how many), never a burst, and the
    /// fire time after runs on time. Cron and fixed rate alike.
    @Test(arguments: SchedulerBackend.all)
    func aClockSteppedForwardPastSeveralFireTimesAppliesTheMisfirePolicyOnce(backend: SchedulerBackend) async throws {
        let clock = ManualWallClock(Self.start)
        let cluster = try TestCluster(backend, clock: clock.wallClock)
        defer { Task { await cluster.shutdown() } }
        let calls = Shared<[Date: Int]>([:])
        try await cluster.startWorker(
            "w", finishedJobRetention: nil, finishedJobLimit: nil, handlers: ["tick": CronAndMisfireTests.fireTimeCounter(calls)])
        let client = try await cluster.client()
        let tenSeconds = try CronExpression("*/10 * * * * *")
        let jobs = ["cron-now", "cron-skip", "rate-now", "rate-skip"]
        for id in jobs {
            let schedule: JobSchedule = id.hasPrefix("cron") ? .cron(tenSeconds) : .every(.seconds(10), start: nil)
            try await client.submit(JobSpec(id: id, handler: "tick", schedule: schedule, misfire: id.hasSuffix("now") ? .fireOnceNow : .skip))
        }
        clock.advance(by: 10)
        _ = try await cluster.waitForHistory("the first fire time") { history in jobs.allSatisfy { successes($0)(history) } }

        clock.advance(by: 35.3)  // past +20, +30 and +40, 5.3 s late for +40: a misfire
        _ = try await cluster.waitForHistory("the misfires") { history in
            ["cron-now", "rate-now"].allSatisfy { successes($0, 2)(history) }
                && ["cron-skip", "rate-skip"].allSatisfy { job in history.contains { $0.job == job && $0.outcome == .skipped } }
        }
        clock.advance(by: 4.7)
        let history = try await cluster.waitForHistory("the fire time after") { history in
            ["cron-now", "rate-now"].allSatisfy { successes($0, 3)(history) }
                && ["cron-skip", "rate-skip"].allSatisfy { successes($0, 2)(history) }
        }
        let at = { (seconds: Double) in Self.start.addingTimeInterval(seconds) }
        let latestMissed = ISO8601DateFormatter().string(from: at(40))
        for job in ["cron-now", "rate-now"] {
            #expect(Self.outcomes(of: job, in: history).ran == [at(10), at(40), at(50)], "\(job): one run for the latest missed time")
            #expect(
                Self.outcomes(of: job, in: history).skipped
                    == ["2 fire time(s) up to \(latestMissed) missed (misfire policy fire-once-now)"])
        }
        for job in ["cron-skip", "rate-skip"] {
            #expect(Self.outcomes(of: job, in: history).ran == [at(10), at(50)], "\(job): no run for the missed times")
            #expect(Self.outcomes(of: job, in: history).skipped == ["3 fire time(s) up to \(latestMissed) missed (misfire policy skip)"])
        }
        #expect(calls.value == [at(10): 4, at(40): 2, at(50): 4], "no burst of the missed fire times")
    }

    /// A retry's back-off is a wait, not a time of day: the clock stepped back an hour while a run
    /// waits 10 s for its retry, the retry still comes 10 s (of the stepped clock) later. It
    /// waited for the clock to read the time it was due at before the step: an hour and 10 s.
    @Test(arguments: SchedulerBackend.all)
    func aRetryWaitsItsBackOffNotTheStepWhenTheClockStepsBack(backend: SchedulerBackend) async throws {
        let clock = ManualWallClock(Self.start)
        let cluster = try TestCluster(backend, clock: clock.wallClock)
        defer { Task { await cluster.shutdown() } }
        let flaky: JobHandler = { context in
            if context.attempt == 1 { throw RunFailure("the first attempt fails") }
            return RunOutput()
        }
        try await cluster.startWorker("w", finishedJobRetention: nil, finishedJobLimit: nil, handlers: ["flaky": flaky])
        let client = try await cluster.client()
        try await client.submit(JobSpec(id: "flaky", handler: "flaky", retry: RetryPolicy(maxRetries: 1, backoffBase: .seconds(10))))
        _ = try await cluster.waitForHistory("the first attempt") { $0.contains { $0.outcome == .failed } }
        try await withDeadline("the worker to wait for the back-off") { await clock.waitForSleeper(until: Self.start.addingTimeInterval(10)) }

        clock.stepBack(by: 3600)
        let due = Self.start.addingTimeInterval(-3600 + 10)
        try await withDeadline("the worker to wait for the back-off from the stepped clock", limit: .seconds(10)) {
            await clock.waitForSleeper(until: due)
        }
        clock.advance(by: 10)
        let history = try await cluster.waitForHistory("the retry") { successes("flaky")($0) }
        #expect(history.map(\.outcome) == [.failed, .succeeded])
        #expect(history.last?.startedAt == due)
    }

    /// The leader changes between workers whose clocks differ by 3 s (ahead, behind, ahead
    /// again): each fire time runs once, when the leading worker's clock reads it. A leader
    /// behind does not run again what one ahead ran early; one ahead runs the next early.
    @Test(arguments: SchedulerBackend.all)
    func eachFireTimeRunsOnceAsLeadersWithClocksApartTakeTurns(backend: SchedulerBackend) async throws {
        let clock = ManualWallClock(Self.start)
        let cluster = try TestCluster(backend, clock: clock.wallClock)
        defer { Task { await cluster.shutdown() } }
        let behind = WallClock(
            now: { clock.now.addingTimeInterval(-3) }, sleepUntil: { try await clock.wallClock.sleepUntil($0.addingTimeInterval(3)) })
        let calls = Shared<[Date: Int]>([:])
        let handlers = ["tick": CronAndMisfireTests.fireTimeCounter(calls)]
        let at = { (seconds: Double) in Self.start.addingTimeInterval(seconds) }
        try await cluster.startWorker("ahead", finishedJobRetention: nil, finishedJobLimit: nil, handlers: handlers)
        let client = try await cluster.client()
        try await client.submit(JobSpec(id: "tens", handler: "tick", schedule: .cron(try CronExpression("*/10 * * * * *"))))
        clock.advance(by: 10)
        _ = try await cluster.waitForHistory("+10, led ahead") { successes("tens", 1)($0) }

        try await cluster.startWorker("behind", finishedJobRetention: nil, finishedJobLimit: nil, handlers: handlers, clock: behind)
        try await cluster.stopWorker("ahead")
        clock.advance(by: 10)  // +17 on the leader's clock: not yet
        clock.advance(by: 3)
        _ = try await cluster.waitForHistory("+20, led behind") { successes("tens", 2)($0) }

        try await cluster.startWorker("ahead-again", finishedJobRetention: nil, finishedJobLimit: nil, handlers: handlers)
        try await cluster.stopWorker("behind")
        clock.advance(by: 7)  // +30 on the new leader's clock
        let history = try await cluster.waitForHistory("+30, led ahead again") { successes("tens", 3)($0) }
        #expect(Self.outcomes(of: "tens", in: history).ran == [at(10), at(20), at(30)])
        #expect(Self.outcomes(of: "tens", in: history).skipped.isEmpty)
        #expect(calls.value == [at(10): 1, at(20): 1, at(30): 1])
    }

    /// A job submitted from a client whose clock is 30 s ahead of the leader's: its fire times
    /// from the leader's now on run, as on one clock. The leader counted them from the
    /// submission time, on the client's clock, and the fire times of the difference vanished
    /// without a trace (an hour's for a client an hour ahead). A fixed rate without a start counts
    /// from the submission time, on whichever clock: its first fire time is one interval after it.
    @Test(arguments: SchedulerBackend.all)
    func aJobSubmittedFromAClockAheadMissesNoFireTime(backend: SchedulerBackend) async throws {
        let clock = ManualWallClock(Self.start)
        let cluster = try TestCluster(backend, clock: clock.wallClock)
        defer { Task { await cluster.shutdown() } }
        let ahead = WallClock(now: { clock.now.addingTimeInterval(30) }, sleepUntil: { _ in })
        let client = Scheduler(store: try await cluster.open(), layout: cluster.layout, clock: ahead)
        let calls = Shared<[Date: Int]>([:])
        try await cluster.startWorker(
            "w", finishedJobRetention: nil, finishedJobLimit: nil, handlers: ["tick": CronAndMisfireTests.fireTimeCounter(calls)])
        let at = { (seconds: Double) in Self.start.addingTimeInterval(seconds) }
        try await client.submit(JobSpec(id: "tens", handler: "tick", schedule: .cron(try CronExpression("*/10 * * * * *"))))
        try await client.submit(JobSpec(id: "from-start", handler: "tick", schedule: .every(.seconds(10), start: at(0))))
        try await client.submit(JobSpec(id: "rate", handler: "tick", schedule: .every(.seconds(10), start: nil)))
        // The leader has seen them (on its clock, still at the start) before it moves on.
        for job in ["tens", "from-start"] {
            _ = try await cluster.waitForState(of: job, "the submission settled on the leader's clock") { $0.lastMaterialized == Self.start }
        }
        for seconds in [10.0, 20, 30, 40] {
            clock.set(at(seconds))
            _ = try await cluster.waitForHistory("the fire time +\(Int(seconds))") {
                successes("tens", Int(seconds / 10))($0) && successes("from-start", Int(seconds / 10))($0)
            }
        }
        let history = try await cluster.waitForHistory("the rate's first fire time") { successes("rate")($0) }
        #expect(Self.outcomes(of: "tens", in: history).ran == [at(10), at(20), at(30), at(40)])
        #expect(Self.outcomes(of: "from-start", in: history).ran == [at(10), at(20), at(30), at(40)])
        #expect(Self.outcomes(of: "rate", in: history).ran == [at(40)], "one interval after its submission time")
        #expect(history.allSatisfy { $0.outcome == .succeeded })
    }

    /// A one-shot job for now, and a trigger, from a client whose clock is 30 s ahead of the
    /// workers': they run at once. Their runs were due at the client's now, and the workers waited
    /// for their own clocks to read it (an hour for a client an hour ahead).
    @Test(arguments: SchedulerBackend.all)
    func aRunForNowFromAClockAheadRunsAtOnce(backend: SchedulerBackend) async throws {
        let clock = ManualWallClock(Self.start)
        let cluster = try TestCluster(backend, clock: clock.wallClock)
        defer { Task { await cluster.shutdown() } }
        let ahead = WallClock(now: { clock.now.addingTimeInterval(30) }, sleepUntil: { _ in })
        let client = Scheduler(store: try await cluster.open(), layout: cluster.layout, clock: ahead)
        try await cluster.startWorker("w", finishedJobRetention: nil, finishedJobLimit: nil, handlers: ["h": { _ in RunOutput() }])
        try await client.submit(JobSpec(id: "now", handler: "h"))
        try await client.submit(JobSpec(id: "yearly", handler: "h", schedule: .cron(try CronExpression("@yearly"))))
        try await client.trigger("yearly")
        let history = try await cluster.waitForHistory("both runs", limit: .seconds(10)) { successes("now")($0) && successes("yearly")($0) }
        #expect(history.allSatisfy { $0.startedAt == Self.start }, "run on the workers' clock, which has not moved")
    }
}
