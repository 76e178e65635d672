/// A store that can hold keys written by other tools which no ``Key`` can name (on etcd:
/// `/app/a//b`, `/app/dir/`, bytes that are not UTF-8; on ZooKeeper: a segment or a whole key
/// over the length limit, `/zookeeper` inside a namespace, and every znode beneath those). Reads,
/// walks and watches pass over them, so a tool that must not lose data without saying so (a
/// migration) asks for them here.
public protocol ForeignKeyListing: CoordinationStore {
    /// The keys at any depth strictly beneath `key` that no ``Key`` can name, each on its own, as
    /// paths relative to the namespace (bytes that are not UTF-8 shown as U+FFFD), sorted by the
    /// bytes of the stored path (etcd's own order; ZooKeeper, which has none, sorts to match).
    /// None when `key` does not exist.
    func foreignKeys(under key: Key) async throws -> [String]
}
