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
}
