/// A store that can hold keys beneath a name that is no key: on etcd, keys another tool wrote
/// without their parents (`/app/a/b` with no `/app/a`; etcd's keys need none). Such a name is
/// not among ``CoordinationStore/children(of:)``, and `get`, `children` and `walk` of it find
/// nothing, so a tool that shows keys to a person (coord kv ls) asks here what it leaves out.
/// ZooKeeper and the memory store cannot hold such keys.
public protocol UnwrittenParentListing: CoordinationStore {
    /// The names directly beneath `key` that lead to keys, whether or not `key` exists: those that
    /// are keys (`keys`, as ``CoordinationStore/children(of:)`` lists them) and those that are no
    /// keys but have keys beneath them (`unwritten`), each sorted as ``Key/sortedNames(_:)``
    /// sorts. Names no ``Key`` can name are left out (``ForeignKeyListing`` lists those).
    func namesBeneath(_ key: Key) async throws -> (keys: [String], unwritten: [String])
}
