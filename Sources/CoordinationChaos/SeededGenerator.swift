/// SplitMix64: the same seed gives the same workload and fault schedule on every machine, so a
/// failing run can be replayed with `--seed`.
public struct SeededGenerator: RandomNumberGenerator, Sendable {
    private var state: UInt64

    public init(seed: UInt64) {
        state = seed
    }

    public mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var mixed = state
        mixed = (mixed ^ (mixed >> 30)) &* 0xBF58_476D_1CE4_E5B9
        mixed = (mixed ^ (mixed >> 27)) &* 0x94D0_49BB_1331_11EB
        return mixed ^ (mixed >> 31)
    }

    /// A duration drawn uniformly from `range`, to the millisecond.
    public mutating func duration(in range: ClosedRange<Duration>) -> Duration {
        let low = Int64(range.lowerBound / .milliseconds(1))
        let high = Int64(range.upperBound / .milliseconds(1))
        return .milliseconds(Int64.random(in: low...high, using: &self))
    }
}
