import Foundation

/// The leader's memory between rounds: when membership last changed, and the round-robin cursor.
struct PlacementState: Sendable {
    private var members: Set<String>?
    /// The first membership a leader sees counts as settled.
    private var changedAt = ContinuousClock.now.advanced(by: .seconds(-3600))
    private var cursor = 0

    /// Records the live members; returns `true` when they changed.
    mutating func noteMembers(_ now: Set<String>) -> Bool {
        guard now != members else { return false }
        let first = members == nil
        members = now
        if !first { changedAt = .now }
        return !first
    }

    func isStable(window: Duration) -> Bool { ContinuousClock.now >= changedAt.advanced(by: window) }

    mutating func choose(
        spec: JobSpec, item: Int, eligible: [String: WorkerInfo], load: [PlacementPlanner.Candidate], sticky: String?
    ) -> String? {
        defer { cursor &+= 1 }
        return PlacementPlanner.choose(
            spec.placement, runKey: "\(spec.id)/\(item)", candidates: load.filter { eligible[$0.id] != nil },
            cursor: cursor, random: Double.random(in: 0..<1), sticky: sticky)
    }
}
