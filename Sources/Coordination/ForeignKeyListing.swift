/// A store that can hold keys written by other tools which no ``Key`` can name (on etcd:
/// `/app/a//b`, `/app/dir/`, bytes that are not UTF-8). Reads, walks and watches pass over them,
/// so a tool that must not lose data without saying so (a migration) asks for them here.
public protocol ForeignKeyListing: CoordinationStore {
    /// The keys at any depth strictly beneath `key` that no ``Key`` can name, as paths relative
    /// to the namespace (bytes that are not UTF-8 shown as U+FFFD), in the store's order.
    func foreignKeys(under key: Key) async throws -> [String]
}
