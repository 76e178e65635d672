import Foundation
import Testing

@testable import CoordinationScheduler

/// The leader's and the worker's one timer (``WakeTimer``): which passes start a new timer.
/// Timers here are tasks that never end on their own, so each start is counted, not slept.
struct WakeTimerTests {
    let start = Date(timeIntervalSince1970: 1_800_000_000)

    final class Starts {
        var times: [Date] = []
        var tasks: [Task<Void, Never>] = []
        func start(_ at: Date) -> Task<Void, Never> {
            times.append(at)
            let task = Task<Void, Never> { _ = try? await Task.sleep(for: .seconds(3600)) }
            tasks.append(task)
            return task
        }
    }

    /// A later pass asking for the same time keeps the running timer; a new time replaces it and
    /// cancels the old; no time asked for leaves it running.
    @Test func theSameTimeKeepsTheTimerAndANewOneReplacesIt() {
        var timer = WakeTimer()
        let starts = Starts()
        timer.keep(for: start + 10, now: start, start: starts.start)
        timer.keep(for: start + 10, now: start + 1, start: starts.start)
        #expect(starts.times == [start + 10])
        timer.keep(for: nil, now: start + 2, start: starts.start)
        #expect(timer.armedAt == start + 10)
        #expect(!starts.tasks[0].isCancelled)
        timer.keep(for: start + 5, now: start + 3, start: starts.start)
        #expect(starts.times == [start + 10, start + 5])
        #expect(starts.tasks[0].isCancelled)
        timer.cancel()
        #expect(starts.tasks[1].isCancelled)
    }

    /// Work due again at the time a timer was for, with the clock not moved since (a pass that
    /// read part of a backlog): the timer's time has come, so a new one is started. Keeping the
    /// old one (leader audit mutant M07) left the rest of the backlog until some other event.
    @Test func workDueAgainAtATimeThatHasComeGetsANewTimer() {
        var timer = WakeTimer()
        let starts = Starts()
        timer.keep(for: start + 1, now: start, start: starts.start)
        timer.keep(for: start + 1, now: start + 1, start: starts.start)
        #expect(starts.times == [start + 1, start + 1])
        timer.keep(for: start + 1, now: start + 2, start: starts.start)
        #expect(starts.times == [start + 1, start + 1, start + 1])
        timer.cancel()
    }

    /// A timer that fired early (a wall clock stepped back wakes the worker's) is done too: the
    /// same time asked for again gets a new timer, though it is still ahead.
    @Test func aFiredTimerIsReplacedEvenForATimeStillAhead() {
        var timer = WakeTimer()
        let starts = Starts()
        timer.keep(for: start + 10, now: start, start: starts.start)
        timer.fired()
        #expect(timer.armedAt == nil)
        timer.keep(for: start + 10, now: start - 60, start: starts.start)
        #expect(starts.times == [start + 10, start + 10])
        timer.cancel()
    }
}
