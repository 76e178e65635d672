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
        // Each znode with its key (`nil` at and beneath a foreign znode).
        try await listLevels(from: (path: znode(key).path, key: Optional(key)), path: \.path) { node, reply in
            let (path, parent) = node
            switch reply.rc {
            case ZOK.rawValue: break
            case ZNONODE.rawValue: return []  // deleted meanwhile, or `key` is absent
            // Named by the znode refused (a key of its own, else the listing's start), in words
            // a user knows: "the foreign keys" of a refused listing read as another problem.
            default: throw failRead(reply.rc, parent.map(znode) ?? znode(key), "list the children of")
            }
            return Self.childPaths(of: path, reply.names ?? []).map { name, childPath in
                let child = parent.flatMap { Self.namedChild(of: $0, name) }
                if child == nil { foreign.append(String(decoding: childPath.utf8.dropFirst(namespaceBytes), as: UTF8.self)) }
                return (childPath, child)
            }
        }
        return Key.sortedNames(foreign)
    }
}
