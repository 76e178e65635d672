/// One operation of an all-or-nothing ``CoordinationStore/transaction(_:)`` (contract clause 5).
///
/// Inside a transaction nothing is implied: a `create` does not make missing ancestors (its parent
/// must exist already or be created by an earlier operation of the same transaction, otherwise the
/// transaction fails with `noNode` naming that operation), so that the transaction stays atomic on
/// every backend.
///
/// Foundation has an `Operation` class too: where both modules are imported, write
/// `Coordination.Operation` (an array literal passed straight to `transaction(_:)` needs no name).
public enum Operation: Sendable, Hashable {
    /// Succeeds when `key` exists and, if `version` is given, is at that version.
    /// Fails with `noNode` or `versionConflict`.
    case check(Key, version: Int64?)
    /// Creates `key` with `value`; fails with `nodeExists`, `noNode` (missing parent) or `ephemeralChildren`.
    case create(Key, value: [UInt8], mode: CreateMode)
    /// Sets an existing key's value, optionally only at `ifVersion`; fails with `noNode` or `versionConflict`.
    case set(Key, value: [UInt8], ifVersion: Int64?)
    /// Deletes a key that has no children, optionally only at `ifVersion`;
    /// fails with `noNode`, `versionConflict` or `notEmpty`.
    case delete(Key, ifVersion: Int64?)

    /// The key the operation is about.
    public var key: Key {
        switch self {
        case .check(let key, _), .create(let key, _, _), .set(let key, _, _), .delete(let key, _): key
        }
    }

    /// The version it requires the key to be at, if any.
    public var expectedVersion: Int64? {
        switch self {
        case .check(_, let version), .set(_, _, let version), .delete(_, let version): version
        case .create: nil
        }
    }

    /// The value it writes, if any.
    public var value: [UInt8]? {
        switch self {
        case .create(_, let value, _), .set(_, let value, _): value
        case .check, .delete: nil
        }
    }

    /// A short description for error messages: `set /a/b`.
    public var summary: String {
        switch self {
        case .check(let key, _): "check \(key)"
        case .create(let key, _, let mode): "create \(key) (\(mode.rawValue))"
        case .set(let key, _, _): "set \(key)"
        case .delete(let key, _): "delete \(key)"
        }
    }
}

/// What each operation of a successful transaction did, in the same order as the operations.
public enum OperationResult: Sendable, Hashable {
    case checked
    /// The created record; for a sequential create its key carries the assigned suffix.
    case created(Record)
    /// The record after the set.
    case set(Record)
    case deleted
}

extension Collection where Element == Operation {
    /// Whether an operation creates a key directly beneath the root, that is the handle's
    /// namespace: every backend makes the namespace's key exist first (it may have been deleted
    /// from outside), since inside a transaction a create needs its parent.
    package var createsBeneathRoot: Bool {
        contains { if case .create(let key, _, _) = $0 { key.parent == .root } else { false } }
    }
}
