public import Foundation

/// The wall clock the scheduler reads fire times, back-offs and timestamps from. Injected so that
/// tests (and simulations) can move time by hand; timeouts use the monotonic clock instead.
public struct WallClock: Sendable {
    public let now: @Sendable () -> Date
    /// Returns once `now()` has reached the date (or throws `CancellationError`).
    public let sleepUntil: @Sendable (Date) async throws -> Void
    /// As ``sleepUntil``, but returns early too when `now()` steps back: for a wait that is a
    /// duration at heart (a retry's back-off), whose date the caller then moves nearer. A step
    /// back of an hour otherwise made a 10 s back-off last an hour and 10 s.
    public let sleepUntilOrStepBack: @Sendable (Date) async throws -> Void

    /// - Parameter sleepUntilOrStepBack: when not given, ``sleepUntil`` (steps back go unnoticed).
    public init(
        now: @escaping @Sendable () -> Date, sleepUntil: @escaping @Sendable (Date) async throws -> Void,
        sleepUntilOrStepBack: (@Sendable (Date) async throws -> Void)? = nil
    ) {
        self.now = now
        self.sleepUntil = sleepUntil
        self.sleepUntilOrStepBack = sleepUntilOrStepBack ?? sleepUntil
    }

    /// The system's clock.
    public static let system = realtime(now: { Date() }, sleep: { try await Task.sleep(for: $0) })

    /// A clock that reads `now` and waits with `sleep`, on another clock (the system's: the
    /// monotonic one), as ``system`` does; tests pass a `now` that steps.
    ///
    /// `now` can be stepped (NTP, an operator) while a sleep lasts, which the other clock does
    /// not follow: so the sleep goes in slices of at most ``longestSleep``, `now` read after each.
    /// One sleep for the whole wait ended early after a step back (a leader then took its fire
    /// time's timer for one still to come, and never woke for it), and late after a step forward,
    /// by as much as the step (a misfire).
    static func realtime(
        now: @escaping @Sendable () -> Date, sleep: @escaping @Sendable (Duration) async throws -> Void
    ) -> WallClock {
        WallClock(
            now: now,
            sleepUntil: { date in try await sleepInSlices(until: date, now: now, sleep: sleep, wakingOnStepBack: false) },
            sleepUntilOrStepBack: { date in
                try await sleepInSlices(until: date, now: now, sleep: sleep, wakingOnStepBack: true)
            })
    }

    private static func sleepInSlices(
        until date: Date, now: @Sendable () -> Date, sleep: @Sendable (Duration) async throws -> Void, wakingOnStepBack: Bool
    ) async throws {
        var previous = now()
        while true {
            let current = now()
            // Between two readings the clock can only have moved on, unless it was stepped back.
            if wakingOnStepBack && current < previous { return }
            previous = current
            let seconds = date.timeIntervalSince(current)
            guard seconds > 0 else { return }
            try await sleep(min(longestSleep, .milliseconds(Int64((seconds * 1000).rounded(.up)))))
        }
    }

    /// A step forward is noticed within this: half the default misfire threshold.
    static let longestSleep = Duration.milliseconds(250)
}
