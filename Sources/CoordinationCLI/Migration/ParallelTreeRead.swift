import Coordination

/// Reads a subtree level by level with many requests in flight, through the contract only.
///
/// The generic ``TreeWalk`` (which ZooKeeper's `walk` is) does one `get` and one `children` per
/// key, one key after another: about 0.4 ms a key on loopback, too slow for a migration. Here the
/// keys of one level are read `width` at a time, each a `get` and (for persistent keys) a
/// `children`. Records are not from one moment (neither are TreeWalk's); keys that vanish while
/// the read runs are skipped.
struct ParallelTreeRead {
    let store: any CoordinationStore
    let width: Int

    /// Every record at and beneath `key` (the root itself has none), parents' levels before children's.
    func records(under key: Key, progress: (Int) -> Void) async throws -> [Record] {
        var result: [Record] = []
        var level: [Key]
        if key.isRoot {
            level = try await names(of: .root).map { Key.root.appending(storedName: $0) }
        } else {
            level = [key]
        }
        var reported = 0
        while !level.isEmpty {
            var next: [Key] = []
            try await withThrowingTaskGroup(of: (Record?, [Key]).self) { group in
                var inFlight = 0
                for child in level {
                    if inFlight >= width, let (record, children) = try await group.next() {
                        inFlight -= 1
                        if let record { result.append(record) }
                        next += children
                    }
                    group.addTask {
                        guard let record = try await store.get(child) else { return (nil, []) }
                        if record.isEphemeral { return (record, []) }
                        return (record, try await names(of: child).map { child.appending(storedName: $0) })
                    }
                    inFlight += 1
                }
                for try await (record, children) in group {
                    if let record { result.append(record) }
                    next += children
                }
            }
            if result.count - reported >= 256 {
                reported = result.count
                progress(result.count)
            }
            level = next
        }
        return result
    }

    /// The children's names; none when the key vanished.
    private func names(of key: Key) async throws -> [String] {
        do {
            return try await store.children(of: key)
        } catch let error as CoordinationError where error.code == .noNode {
            return []
        }
    }
}
