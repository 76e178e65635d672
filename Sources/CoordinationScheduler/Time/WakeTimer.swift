import Foundation

/// The one timer a loop keeps to wake itself for work due later: the leader's fire times,
/// sweeps and rechecks, the worker's back-offs and due runs. Each pass asks for its earliest
/// wake; the timer is kept while the time asked for stays the same, and replaced when it moves.
///
/// A timer whose time has come is done: it has fired, or is about to. Work due at that same time
/// again (a pass that read only part of a backlog, at a clock that has not moved) needs a timer
/// of its own, or the loop would sleep until some other event came.
struct WakeTimer {
    private var armed: (at: Date, task: Task<Void, Never>)?

    /// The time the running timer wakes at, if any.
    var armedAt: Date? { armed?.at }

    /// A wake from the timer has arrived: it is done. Cancelled in case it was not this timer's
    /// (a pass in between replaced it), so that no timer is left unaccounted for.
    mutating func fired() {
        armed?.task.cancel()
        armed = nil
    }

    /// Keeps the timer for `wake`, starting one with `start` unless the running one is for that
    /// same time and that time is still ahead of `now`. `nil` leaves the running timer alone:
    /// a pass with nothing due later does not cancel a wake asked for before.
    mutating func keep(for wake: Date?, now: Date, start: (Date) -> Task<Void, Never>) {
        if let at = armed?.at, at <= now { fired() }
        guard let wake, armed?.at != wake else { return }
        armed?.task.cancel()
        armed = (wake, start(wake))
    }

    /// Stops the running timer, for a loop that ends.
    mutating func cancel() {
        armed?.task.cancel()
        armed = nil
    }
}
