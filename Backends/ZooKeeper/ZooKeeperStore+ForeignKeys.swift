import CZooKeeper
public import Coordination

extension ZooKeeperStore: ForeignKeyListing {
    /// The znodes strictly beneath `key` that no ``Key`` can name, as paths relative to the
    /// namespace: those ``namedChild(of:_:)`` refuses, which every read passes over, so that each
    /// znode is either read or listed here, never both and never neither. (The server refuses the
    /// characters keys refuse, so another client can only write a segment or a whole key over the
    /// length limit, or `/zookeeper` at the top of a namespace.)
    ///
    /// Every znode beneath such a one is listed too, whatever its own name: no key can name it
    /// either, and reads never reach it (as on etcd, where each such key is listed on its own).
    /// ZooKeeper lists children in no particular order: the paths are sorted by their UTF-8
    /// bytes, the order etcd's listing has. ZooKeeper's own `/zookeeper` (under no namespace)
    /// is not listed. The tree is listed a level at a time, every znode of a batch at once, through
    /// the C client's asynchronous calls; znodes deleted meanwhile are passed over.
    public func foreignKeys(under key: Key) async throws -> [String] {
        let namespaceBytes = namespace.isRoot ? 0 : namespace.path.utf8.count
        var foreign: [String] = []
        // Each znode still to list, with its key (`nil` at and beneath a foreign znode).
        var level: [(path: String, key: Key?)] = [(znode(key).path, key)]
        while !level.isEmpty {
            var next: [(path: String, key: Key?)] = []
            for start in stride(from: 0, to: level.count, by: Self.listingBatch) {
                let batch = level[start..<min(start + Self.listingBatch, level.count)]
                let replies = await listNodes(batch.map(\.path))
                for ((path, parent), reply) in zip(batch, replies) {
                    switch reply.rc {
                    case ZOK.rawValue: break
                    case ZNONODE.rawValue: continue  // deleted meanwhile, or `key` is absent
                    // Named by the znode refused (a key of its own, else the listing's start), in words
                    // a user knows: "the foreign keys" of a refused listing read as another problem.
                    default: throw failRead(reply.rc, parent.map(znode) ?? znode(key), "list the children of")
                    }
                    for (name, childPath) in Self.childPaths(of: path, reply.names ?? []) {
                        let child = parent.flatMap { Self.namedChild(of: $0, name) }
                        if child == nil { foreign.append(String(decoding: childPath.utf8.dropFirst(namespaceBytes), as: UTF8.self)) }
                        next.append((childPath, child))
                    }
                }
            }
            try Task.checkCancellation()
            level = next
        }
        return Key.sortedNames(foreign)
    }

    /// How many znodes ``foreignKeys(under:)`` lists at once: a level can be a whole large folder.
    static let listingBatch = 512

    /// Lists the children of each znode in `paths` (which need not be keys), all requests sent at once.
    func listNodes(_ paths: [String]) async -> [Reply] {
        await connection.callAll(paths.count) { index, zh, context in
            paths[index].withCString { zoo_aget_children(zh, $0, 0, completeStrings, context) }
        }
    }
}
