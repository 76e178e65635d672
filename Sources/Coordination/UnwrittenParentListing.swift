/// A store that can hold keys beneath a name that is no key: on etcd, keys another tool wrote
/// without their parents (`/app/a/b` with no `/app/a`; etcd's keys need none). Such a name is
/// not among ``CoordinationStore/children(of:)``, and `get`, `children` and `walk` of it find
/// nothing, so a tool that shows keys to a person (coord kv ls) asks here what it leaves out.
/// ZooKeeper and the memory store cannot hold such keys.
public protocol UnwrittenParentListing: CoordinationStore {
    /// The names directly beneath `key` that lead to keys, whether or not `key` exists, from one
    /// read (a listing need not make two).
    func namesBeneath(_ key: Key) async throws -> NamesBeneath
}

/// What lies directly beneath a key (``UnwrittenParentListing/namesBeneath(_:)``), each list
/// sorted as ``Key/sortedNames(_:)`` sorts. Names no ``Key`` can name are left out
/// (``ForeignKeyListing`` lists those).
public struct NamesBeneath: Sendable, Hashable {
    /// Whether the key itself exists (the root always does).
    public var keyExists: Bool
    /// The names that are keys: ``CoordinationStore/children(of:)`` when the key exists.
    public var keys: [String]
    /// The names that are no keys but have keys beneath them.
    public var unwritten: [String]

    public init(keyExists: Bool, keys: [String], unwritten: [String]) {
        self.keyExists = keyExists
        self.keys = keys
        self.unwritten = unwritten
    }
}
