import Foundation

/// The leader's memory between rounds: when membership last changed, and the round-robin cursor.
struct PlacementState: Sendable {
    private var members: Set<String>?
    /// A new leader cannot tell a settled membership from one changing as it took over: it
    /// counted its first as settled and moved items onto a worker that had just joined, only to
    /// move them back when that worker left within the window.
    private var changedAt: ContinuousClock.Instant?
    private var cursor = 0

    /// Records the live members seen at `time`; returns `true` when they changed (the first time
    /// included), which starts the stabilisation window again.
    mutating func noteMembers(_ current: Set<String>, at time: ContinuousClock.Instant = .now) -> Bool {
        guard current != members else { return false }
        members = current
        changedAt = time
        return true
    }

    /// Whether `window` has passed at `time` since the members last changed (none noted yet: no).
    func isStable(window: Duration, at time: ContinuousClock.Instant = .now) -> Bool {
        changedAt.map { time >= $0.advanced(by: window) } ?? false
    }

    mutating func choose(
        spec: JobSpec, item: Int, eligible: [String: WorkerInfo], load: [PlacementPlanner.Candidate], sticky: String?
    ) -> String? {
        defer { cursor &+= 1 }
        return PlacementPlanner.choose(
            spec.placement, runKey: "\(spec.id)/\(item)", candidates: load.filter { eligible[$0.id] != nil },
            cursor: cursor, random: Double.random(in: 0..<1), sticky: sticky)
    }
}
