/// Spreads items over workers in proportion to their weights, moving as few items as possible
/// from the current assignment: each worker keeps up to its quota of the items it has, and only
/// the excess (and the items of workers that left) moves, to the workers below their quota.
public enum BalancedAssignment {
    /// The new assignment of `items`. `workers` maps each live worker to its weight (≥ 1).
    /// Deterministic: the same inputs always give the same plan.
    public static func plan(items: [Int], current: [Int: String], workers: [String: Int]) -> [Int: String] {
        guard !workers.isEmpty else { return [:] }
        let quotas = quotas(count: items.count, workers: workers, current: current, items: items)
        var result: [Int: String] = [:]
        var held: [String: Int] = [:]
        var pool: [Int] = []
        for item in items.sorted() {
            if let owner = current[item], let quota = quotas[owner], held[owner, default: 0] < quota {
                result[item] = owner
                held[owner, default: 0] += 1
            } else {
                pool.append(item)
            }
        }
        // Fill the workers furthest below their quota first; ties by id for determinism.
        for item in pool {
            let target = workers.keys.max { a, b in
                let da = quotas[a, default: 0] - held[a, default: 0]
                let db = quotas[b, default: 0] - held[b, default: 0]
                return da != db ? da < db : a > b
            }!
            result[item] = target
            held[target, default: 0] += 1
        }
        return result
    }

    /// How many items each worker should hold: proportional to weight, the remainder going to the
    /// largest fractions, then to workers already holding more (fewer moves), then by id.
    public static func quotas(count: Int, workers: [String: Int], current: [Int: String], items: [Int]) -> [String: Int] {
        let total = workers.values.reduce(0) { $0 + max(1, $1) }
        var holding: [String: Int] = [:]
        for item in items { if let owner = current[item] { holding[owner, default: 0] += 1 } }
        var quotas: [String: Int] = [:]
        var fractions: [(String, Int)] = []
        for (worker, weight) in workers {
            let share = count * max(1, weight)
            quotas[worker] = share / total
            fractions.append((worker, share % total))
        }
        let remainder = count - quotas.values.reduce(0, +)
        fractions.sort { a, b in
            if a.1 != b.1 { return a.1 > b.1 }
            let ha = holding[a.0, default: 0] - quotas[a.0, default: 0]
            let hb = holding[b.0, default: 0] - quotas[b.0, default: 0]
            if ha != hb { return ha > hb }
            return a.0 < b.0
        }
        for (worker, _) in fractions.prefix(remainder) { quotas[worker, default: 0] += 1 }
        return quotas
    }

    /// How many items change owner between two assignments.
    public static func moves(from old: [Int: String], to new: [Int: String]) -> Int {
        new.reduce(0) { $0 + (old[$1.key] == $1.value ? 0 : 1) }
    }
}
