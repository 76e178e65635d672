public import Foundation

/// The wall clock the scheduler reads fire times, back-offs and timestamps from. Injected so that
/// tests (and simulations) can move time by hand; timeouts use the monotonic clock instead.
public struct WallClock: Sendable {
    public let now: @Sendable () -> Date
    /// Returns once `now()` has reached the date (or throws `CancellationError`).
    public let sleepUntil: @Sendable (Date) async throws -> Void

    public init(now: @escaping @Sendable () -> Date, sleepUntil: @escaping @Sendable (Date) async throws -> Void) {
        self.now = now
        self.sleepUntil = sleepUntil
    }

    /// The system's clock.
    public static let system = WallClock(
        now: { Date() },
        sleepUntil: { date in
            let seconds = date.timeIntervalSinceNow
            if seconds > 0 { try await Task.sleep(for: .milliseconds(Int64((seconds * 1000).rounded(.up)))) }
        })
}
