import Foundation

/// When one of the leader's occasional passes is due (``IncarnationKeySweep``,
/// ``FenceRestoration``): at once, at the start of a leadership, then `interval` after the last
/// one began, on the first of the leader's passes made anyway from then on.
struct PassPacing: Sendable {
    let interval: TimeInterval
    /// No pass before this.
    private var notBefore: Date?

    init(every interval: TimeInterval) { self.interval = interval }

    /// Whether a pass is due at `now`.
    func isDue(_ now: Date) -> Bool { notBefore.map { now >= $0 } ?? true }

    /// Begins a pass at `now` if one is due (the next is then due `interval` later); `false` if not.
    mutating func begin(at now: Date) -> Bool {
        guard isDue(now) else { return false }
        notBefore = now.addingTimeInterval(interval)
        return true
    }
}
