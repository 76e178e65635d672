import CZooKeeper
import Coordination

extension ZooKeeperStore {
    /// Deletes the znodes beneath `path`, and `path` itself at `version` unless `keepTop`, with
    /// requests sent a batch at a time instead of one round trip each (the one-by-one walk,
    /// ``deleteTree(_:named:version:top:)``, lists every leaf too): the tree is listed a level at
    /// a time, then deleted in the order that walk deletes it (siblings in reverse byte order,
    /// each subtree before its root). Subtree watches report the deletes in that order, as their
    /// signals tell it (``ScopeWatcher``).
    ///
    /// Returns `false` as soon as anything is not as listed (a znode created beneath meanwhile, a
    /// refusal, a lost connection): the one-by-one walk then finishes the job, which retries
    /// what others changed and names what fails. Znodes deleted meanwhile are passed over.
    /// `progress` hears of the listing's end and of each batch's.
    func deleteListedTree(
        _ path: String, version: Int32, keepTop: Bool, progress: (@Sendable (RecursiveDeleteProgress) -> Void)? = nil
    ) async throws -> Bool {
        // Each listed znode's children, in the order they are deleted.
        var children: [String: [String]] = [:]
        var complete = true
        try await listLevels(from: path, path: { $0 }) { parent, reply in
            switch reply.rc {
            case ZOK.rawValue:
                let names = (reply.names ?? []).sorted { $1.utf8.lexicographicallyPrecedes($0.utf8) }
                let paths = Self.childPaths(of: parent, names).map(\.path)
                children[parent] = paths
                return paths
            case ZNONODE.rawValue where parent != path:
                return []  // deleted meanwhile
            default:
                complete = false
                return []
            }
        }
        guard complete else { return false }

        var order: [String] = []
        // Depth first, without recursion: another client's znodes may nest deeper than keys can.
        var stack: [(path: String, childrenDone: Bool)] = [(path, false)]
        while let (znode, childrenDone) = stack.popLast() {
            if childrenDone {
                if znode != path || !keepTop { order.append(znode) }
                continue
            }
            stack.append((znode, true))
            for child in (children[znode] ?? []).reversed() { stack.append((child, false)) }
        }

        progress?(RecursiveDeleteProgress(deleted: 0, total: order.count))
        // A batch at a time, in order: one session's requests are applied in the order sent.
        for start in stride(from: 0, to: order.count, by: Self.listingBatch) {
            let batch = Array(order[start..<min(start + Self.listingBatch, order.count)])
            let replies = await connection.callAll(batch.count) { index, zh, context in
                batch[index].withCString { zoo_adelete(zh, $0, batch[index] == path ? version : -1, completeVoid, context) }
            }
            for (znode, reply) in zip(batch, replies) {
                switch reply.rc {
                case ZOK.rawValue: forget(znode)
                case ZNONODE.rawValue: break
                default: return false
                }
            }
            progress?(RecursiveDeleteProgress(deleted: start + batch.count, total: order.count))
            try Task.checkCancellation()
        }
        return true
    }
}

extension ZooKeeperStore: RecursiveDeleteReporting {
    public func deleteRecursively(
        _ key: Key, ifVersion: Int64?, progress: @escaping @Sendable (RecursiveDeleteProgress) -> Void
    ) async throws {
        try await delete(key, ifVersion: ifVersion, recursive: true, progress: progress)
    }
}
