import Coordination

/// Reads a subtree level by level with many requests in flight, through the contract only.
///
/// The generic ``TreeWalk`` (which ZooKeeper's `walk` is) does one `get` and one `children` per
/// key, one key after another: about 0.4 ms a key on loopback, too slow for a migration. Here the
/// keys of one level are read `width` at a time, each a `get` and a `children` sent together.
/// Records are not from one moment (neither are TreeWalk's); keys that vanish while the read
/// runs are skipped.
struct ParallelTreeRead {
    let store: any CoordinationStore
    let width: Int

    /// Every record at and beneath `key` (the root itself has none), parents' levels before children's.
    func records(under key: Key, progress: (Int) -> Void) async throws -> [Record] {
        var result: [Record] = []
        try await levels(under: key) { level in
            result += level
            progress(result.count)
        }
        return result
    }

    /// Hands each level's records (depth d, then d + 1, …) to `body` as soon as it is read.
    func levels(under key: Key, _ body: ([Record]) async throws -> Void) async throws {
        var level: [Key]
        if key.isRoot {
            level = try await names(of: .root).compactMap { Key.root.appending(storedName: $0) }
        } else {
            level = [key]
        }
        while !level.isEmpty {
            var records: [Record] = []
            var next: [Key] = []
            try await withThrowingTaskGroup(of: (Record?, [Key]).self) { group in
                var inFlight = 0
                for child in level {
                    if inFlight >= width, let (record, children) = try await group.next() {
                        inFlight -= 1
                        if let record { records.append(record) }
                        next += children
                    }
                    group.addTask {
                        // Both requests at once: most keys are leaves, so waiting for the record
                        // to decide whether to list would only add a round trip.
                        async let names = names(of: child)
                        guard let record = try await store.get(child) else { return (nil, []) }
                        return (record, try await names.compactMap { child.appending(storedName: $0) })
                    }
                    inFlight += 1
                }
                for try await (record, children) in group {
                    if let record { records.append(record) }
                    next += children
                }
            }
            // Reads that ignore cancellation still end here: a partial tree is never handed on.
            try Task.checkCancellation()
            try await body(records)
            level = next
        }
    }

    /// The children's names; none when the key vanished (or is ephemeral, which has none).
    private func names(of key: Key) async throws -> [String] {
        do {
            return try await store.children(of: key)
        } catch let error as CoordinationError where error.code == .noNode {
            return []
        }
    }
}
