import CZooKeeper
import Coordination

extension ZooKeeperStore {
    /// Deletes the znodes beneath `path`, and `path` itself at `version` unless `keepTop`, listing
    /// the tree a level at a time, a batch of znodes at once, instead of one round trip per znode
    /// (the one-by-one walk, ``deleteTree(_:named:version:top:)``, lists every leaf too), then
    /// deleting in the order that walk does (siblings in reverse byte order, each subtree before
    /// its root).
    ///
    /// Returns `false` as soon as anything is not as listed (a znode created beneath meanwhile, a
    /// refusal, a lost connection): the one-by-one walk then finishes the job, which retries
    /// what others changed and names what fails. Znodes deleted meanwhile are passed over.
    func deleteListedTree(_ path: String, version: Int32, keepTop: Bool) async throws -> Bool {
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

        // One at a time, each once the last was answered: a subtree watch (another handle's)
        // reports the deletes in the order made only while they come apart. Sent in batches, the
        // signals of a burst were read together, and a sibling's delete came before its folder's.
        for znode in order {
            let reply = await deleteNode(path: znode, version: znode == path ? version : -1)
            switch reply.rc {
            case ZOK.rawValue: forget(znode)
            case ZNONODE.rawValue: break
            default: return false
            }
            try Task.checkCancellation()
        }
        return true
    }
}
