import CoordinationScheduler

/// The ranges of the counts a command takes for its workers, shared where they mean the same
/// (`coord worker`, `coord run` and `coord bench --claims`). Far beyond what a machine runs
/// usefully, short of what breaks: a capacity or weight is summed and multiplied by the leader
/// of the workers' group (one near 2^63 overflows there), and each in-process worker is a store
/// handle (a session) of its own.
enum CountLimits {
    /// A worker's capacity: the handlers (for `coord worker`, shell commands) it runs at once.
    static let capacity = Worker.Configuration.capacities
    /// A worker's share of planned work for the weighted strategy, against the other workers'.
    static let weight = Worker.Configuration.weights
    /// Workers in one coord process, each on a store handle (a session) of its own.
    static let inProcessWorkers = 1...64

    /// Refuses `value` of `option` outside `range` (status 64), saying `why` the range ends
    /// where it does when the value is above it.
    static func check(_ option: String, _ value: Int, _ range: ClosedRange<Int>, _ why: String) throws {
        guard !range.contains(value) else { return }
        let reason = value > range.upperBound ? ": \(why)" : ""
        throw CommandLineProblem("\(option) must be between \(range.lowerBound) and \(range.upperBound), got \(value)\(reason)")
    }
}
