/// A consistent-hash ring over worker ids with virtual nodes: a key belongs to the first node
/// clockwise from its hash. When a worker leaves only its keys move, and when it returns it gets
/// exactly the same keys back. The hash (FNV-1a, 64 bits) is the same in every process.
public struct HashRing: Sendable, Hashable {
    private let points: [(hash: UInt64, node: String)]

    public init(nodes: some Sequence<String>, virtualNodes: Int = 64) {
        var points: [(UInt64, String)] = []
        for node in Set(nodes) {
            for replica in 0..<max(1, virtualNodes) { points.append((Self.hash("\(node)#\(replica)"), node)) }
        }
        self.points = points.sorted { $0.0 != $1.0 ? $0.0 < $1.0 : $0.1 < $1.1 }
    }

    /// The node that owns `key`; `nil` for an empty ring.
    public func owner(of key: String) -> String? {
        guard !points.isEmpty else { return nil }
        let hash = Self.hash(key)
        var low = 0
        var high = points.count
        while low < high {
            let middle = (low + high) / 2
            if points[middle].hash < hash { low = middle + 1 } else { high = middle }
        }
        return points[low == points.count ? 0 : low].node
    }

    public static func hash(_ text: String) -> UInt64 {
        var hash: UInt64 = 0xcbf2_9ce4_8422_2325
        for byte in text.utf8 {
            hash ^= UInt64(byte)
            hash = hash &* 0x0000_0100_0000_01b3
        }
        // Final avalanche (splitmix64), so that similar keys spread around the ring.
        hash ^= hash >> 30
        hash = hash &* 0xbf58_476d_1ce4_e5b9
        hash ^= hash >> 27
        hash = hash &* 0x94d0_49bb_1331_11eb
        hash ^= hash >> 31
        return hash
    }

    public static func == (lhs: HashRing, rhs: HashRing) -> Bool {
        lhs.points.elementsEqual(rhs.points) { $0.hash == $1.hash && $0.node == $1.node }
    }
    public func hash(into hasher: inout Hasher) {
        for point in points {
            hasher.combine(point.hash)
            hasher.combine(point.node)
        }
    }
}
