import Foundation

extension NSCondition {
    /// Waits (the lock held) until signalled or until `deadline` on the monotonic clock; `false`
    /// when the deadline passed. `wait(until: Date)` counts on the wall clock, which a step (NTP, a
    /// resumed VM) moves: a step back stretched a keep-alive's or a watchdog beat's wait by as much.
    /// So the wait goes in slices of at most 250 ms, the monotonic clock read after each.
    package func wait(until deadline: ContinuousClock.Instant) -> Bool {
        let left = deadline - ContinuousClock.now
        guard left > .zero else { return false }
        let slice = min(left, .milliseconds(250))
        let seconds = Double(slice.components.seconds) + Double(slice.components.attoseconds) / 1e18
        if wait(until: Date(timeIntervalSinceNow: seconds)) { return true }
        return ContinuousClock.now < deadline ? wait(until: deadline) : false
    }
}
