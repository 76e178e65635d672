import Synchronization

/// A set of endpoints by index (the first 64; none beyond is ever in it), read on every reply
/// and written once per endpoint, without a lock.
final class EndpointSet: Sendable {
    private let bits = Atomic<UInt64>(0)

    func insert(_ index: Int) {
        guard index < 64 else { return }
        let bit = UInt64(1) << UInt64(index)
        // Read first: every reply comes here, and the bit is set once.
        if bits.load(ordering: .relaxed) & bit == 0 { bits.bitwiseOr(bit, ordering: .relaxed) }
    }

    func contains(_ index: Int) -> Bool {
        index < 64 && bits.load(ordering: .relaxed) & (UInt64(1) << UInt64(index)) != 0
    }
}
