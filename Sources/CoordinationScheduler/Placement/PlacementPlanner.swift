/// The leader's choice of a worker for one pending run, per planned strategy. Pure: everything it
/// needs is passed in, so each strategy is unit-tested on its own.
public enum PlacementPlanner {
    /// What the planner knows of a live, eligible worker.
    public struct Candidate: Sendable, Hashable {
        public let id: String
        public let capacity: Int
        public let weight: Int
        /// Runs it is running or is assigned.
        public let load: Int

        public init(id: String, capacity: Int, weight: Int, load: Int) {
            self.id = id
            self.capacity = capacity
            self.weight = weight
            self.load = load
        }
    }

    /// The worker for `runKey` (`job/item`), or `nil` when there is no candidate.
    /// - Parameters:
    ///   - cursor: for round-robin, the position of this assignment in the rotation.
    ///   - random: a number in `[0, 1)` for the random and weighted strategies.
    ///   - sticky: for sharded items, the balanced, sticky assignment (used when present).
    public static func choose(
        _ strategy: PlacementStrategy, runKey: String, candidates: [Candidate], cursor: Int, random: Double,
        sticky: String? = nil
    ) -> String? {
        guard !candidates.isEmpty else { return nil }
        if let sticky, candidates.contains(where: { $0.id == sticky }) { return sticky }
        let sorted = candidates.sorted { $0.id < $1.id }
        switch strategy {
        case .compete, .broadcast:
            return nil
        case .roundRobin:
            return sorted[((cursor % sorted.count) + sorted.count) % sorted.count].id
        case .random:
            return sorted[min(sorted.count - 1, Int(random * Double(sorted.count)))].id
        case .leastLoaded:
            // Most free capacity in proportion; ties by fewer runs, then id.
            return sorted.min { a, b in
                let fa = Double(a.load) / Double(max(1, a.capacity))
                let fb = Double(b.load) / Double(max(1, b.capacity))
                return fa != fb ? fa < fb : a.load < b.load
            }?.id
        case .weighted:
            let total = sorted.reduce(0) { $0 + max(1, $1.weight) }
            var point = random * Double(total)
            for candidate in sorted {
                point -= Double(max(1, candidate.weight))
                if point < 0 { return candidate.id }
            }
            return sorted.last?.id
        case .consistentHash:
            return HashRing(nodes: sorted.map(\.id)).owner(of: runKey)
        }
    }

    /// `true` when sharded items of this strategy keep a sticky, balanced assignment (rebalanced
    /// with the fewest moves when membership changes).
    public static func usesBalancedItems(_ strategy: PlacementStrategy) -> Bool {
        strategy == .roundRobin || strategy == .leastLoaded || strategy == .weighted
    }
}
