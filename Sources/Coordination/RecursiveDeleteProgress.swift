/// How far a recursive delete has got: the keys deleted so far, of the keys listed to delete
/// (the key itself counted, the root not).
public struct RecursiveDeleteProgress: Sendable, Hashable {
    public var deleted: Int
    public var total: Int

    public init(deleted: Int, total: Int) {
        self.deleted = deleted
        self.total = total
    }
}

/// A store whose recursive delete takes long enough on a large tree to be worth telling a
/// person about (ZooKeeper deletes znode by znode: 20,000 take seconds), and can say how far it
/// has got. etcd deletes a subtree in one request, and the memory store at once.
public protocol RecursiveDeleteReporting: CoordinationStore {
    /// ``CoordinationStore/delete(_:ifVersion:recursive:)`` with `recursive`, the same in every
    /// respect, calling `progress` as it goes: once the tree is listed, then after each batch of
    /// deletes. A delete that has to go key by key (the tree changed under it) reports no more.
    func deleteRecursively(_ key: Key, ifVersion: Int64?, progress: @escaping @Sendable (RecursiveDeleteProgress) -> Void) async throws
}
