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
}
