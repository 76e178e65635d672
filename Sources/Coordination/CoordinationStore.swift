/// A handle on a coordination store: a tree of keys with versioned values, sessions and watches,
/// with the same behaviour on every backend (the contract below).
///
/// ## The contract
/// Every clause is checked by the conformance suite (`CoordinationTesting`), on the embedded
/// store, ZooKeeper and etcd alike; a backend that cannot honour one throws `unsupported` rather
/// than fake it.
/// 1. **Keys** (``Key``) are absolute `/`-separated paths of non-empty UTF-8 segments, never `.`
///    or `..`, without control characters, within ``CoordinationLimits``; `/zookeeper…` at the
///    root is reserved everywhere. A bad key is refused before any I/O with `invalidKey`.
/// 2. **Values** are bytes up to ``CoordinationLimits/maxValueBytes``; larger is `valueTooLarge`,
///    before any I/O.
/// 3. **Tree.** A create makes missing ancestors as empty persistent keys; ``children(of:)`` lists
///    direct children's names, sorted; deleting a key with children is `notEmpty` unless
///    recursive; ephemeral keys have no children (`ephemeralChildren`).
/// 4. **Records** (``Record``) carry the value, a per-key `version` (0 at creation, +1 per set,
///    the same on every backend) and store-wide `createRevision` / `modRevision`, totally ordered
///    within one store and usable as fencing tokens; never compare them across stores. An
///    ephemeral key's `ownerSession` is the `sessionID` of the session it belongs to (`nil` for a
///    persistent key), so a handle can tell its own ephemeral key from another's.
/// 5. **Operations:** get, exists, create (persistent, ephemeral, sequential, both), set and
///    delete (optionally at a version; delete optionally recursive), children, walk, and
///    ``transaction(_:)``: all or nothing, saying which operation failed and why, within
///    ``CoordinationLimits/maxTransactionOperations``.
/// 6. **Sequential keys** get a 10-digit, zero-padded suffix, unique and strictly increasing in
///    creation order under their parent, from a counter the store keeps (never a client's).
/// 7. **Sessions** (``SessionEvent``): one per handle, with a TTL; ephemeral keys belong to it.
///    Its states are a stream: connected, suspended (contact lost; ephemerals may still exist),
///    reconnected, expired (ephemerals gone; the handle starts a new session and says so). A
///    holder of anything treats "suspended longer than the TTL since the last confirmed contact,
///    on a monotonic clock" as lost.
/// 8. **Watches** (``WatchEvent``) of a key or a subtree: a snapshot at a revision, then puts and
///    deletes in store order, never reordered (ZooKeeper may coalesce changes of one key); a fresh
///    snapshot whenever continuity is lost (a reconnect, etcd's compaction). Applying the events
///    to a dictionary converges to the store's state. Cancelling the task ends the stream.
/// 9. **Errors** are one ``CoordinationError`` whose code means the same situation on every
///    backend; the backend's own detail rides along for diagnosis.
/// 10. **Namespaces.** A handle opened under a namespace (ZooKeeper chroot, etcd key prefix)
///    cannot read or write outside it, whatever key it is handed. Credentials and TLS are
///    configuration, never logged.
///
/// Keys passed in and returned are relative to the handle's ``namespace``; a handle can neither
/// read nor write outside it (clause 10). Every requirement validates its input before any I/O:
/// keys are valid by construction (``Key``), values and transactions are checked against
/// ``CoordinationLimits``. Every failure is a ``CoordinationError`` with a portable code.
///
/// A handle owns one session (clause 7). It is `Sendable` and safe to use from many tasks at once.
/// Call ``close()`` when done: it ends the session, deletes the handle's ephemeral keys, and
/// finishes its watch and session streams.
public protocol CoordinationStore: Sendable {
    /// The namespace every key of this handle lives under; ``Key/root`` when there is none.
    var namespace: Key { get }

    /// Reads `key`. Returns `nil` when it does not exist.
    /// - Throws: `invalidKey` for the root, which has no record.
    func get(_ key: Key) async throws -> Record?

    /// `true` when `key` exists. The root always exists.
    func exists(_ key: Key) async throws -> Bool

    /// Creates `key` with `value` (clause 3, 5, 6).
    ///
    /// Missing ancestors are created first as empty persistent keys. For a sequential mode the
    /// key's last segment is a prefix to which a 10-digit, zero-padded number is appended, unique
    /// and strictly increasing in creation order under the parent; the returned record carries
    /// the full key. The numbers are each backend's own and need not be dense: compare them, do
    /// not count on their values (ZooKeeper counts every child created under the parent, etcd and
    /// the embedded store count sequential creates). Ephemeral keys belong to this handle's session.
    /// - Returns: the created record (version 0); its `createRevision` is a fencing token, larger
    ///   for every later create (keys created in one transaction share it).
    /// - Throws: `nodeExists`; `ephemeralChildren` when an ancestor is ephemeral; `valueTooLarge`;
    ///   `invalidKey` for the root.
    func create(_ key: Key, value: [UInt8], mode: CreateMode) async throws -> Record

    /// Replaces the value of an existing key, optionally only if it is at `ifVersion`.
    /// - Returns: the record after the write (version + 1).
    /// - Throws: `noNode`; `versionConflict`; `valueTooLarge`; `invalidKey` for the root.
    func set(_ key: Key, value: [UInt8], ifVersion: Int64?) async throws -> Record

    /// Deletes `key`, optionally only if it is at `ifVersion`. Without `recursive`, a key with
    /// children is refused with `notEmpty`; with it, the key and everything beneath it go
    /// (children first; not atomic as a whole). Deleting the root recursively empties the namespace
    /// and leaves the root itself.
    /// - Throws: `noNode`; `versionConflict`; `notEmpty`.
    func delete(_ key: Key, ifVersion: Int64?, recursive: Bool) async throws

    /// The names of `key`'s direct children, sorted by their UTF-8 bytes.
    /// - Throws: `noNode` when `key` does not exist.
    func children(of key: Key) async throws -> [String]

    /// Every record at and beneath `key`, parents before children, siblings in `children(of:)`
    /// order. Each record is as of some moment during the walk; keys created or deleted while it
    /// runs may or may not appear. The root itself is not yielded. An absent `key` yields nothing.
    func walk(_ key: Key) -> AsyncThrowingStream<Record, any Error>

    /// Applies `operations` all or nothing (clause 5).
    /// - Returns: one result per operation, in order.
    /// - Throws: the failing operation's error, with ``CoordinationError/failedOperation`` set to
    ///   its zero-based index; nothing was applied. `transactionTooLarge` past the portable limits.
    ///   A failure of the whole call names no operation: `connectionLoss` and `timeout` (the
    ///   outcome is unknown), `sessionExpired`, `unauthenticated` and `unavailable`.
    func transaction(_ operations: [Operation]) async throws -> [OperationResult]

    /// Watches `key`, its direct children, its children and grandchildren, down to its
    /// great-grandchildren, or its subtree, as `scope` says (clause 8): a snapshot, then events in store order, and a fresh snapshot
    /// whenever continuity is lost. The key need not exist. The stream ends when the consuming
    /// task is cancelled, or with `unavailable` when the handle is closed.
    func watch(_ key: Key, scope: WatchScope) -> AsyncThrowingStream<WatchEvent, any Error>

    /// The session's states (clause 7): first the current state, then every change, until the
    /// handle is closed (`closed` is the last element).
    func sessionEvents() -> AsyncStream<SessionEvent>

    /// The session's current state, with its last contact kept current while the session is
    /// `connected` or `reconnected` (confirmed at least every third of the TTL; see
    /// ``SessionEvent/lastContact``), which the stream's events do not carry. Cheap: read it often.
    var session: SessionEvent { get }

    /// Ends the session (its ephemeral keys are deleted), finishes every stream, and releases the
    /// connection. Further calls fail with `unavailable`. Calling it twice is harmless.
    ///
    /// Other handles see the ephemeral keys go through their watches; they may still read them
    /// for a moment after `close()` returns (ZooKeeper's C client returns once the close request
    /// is sent, before the server has ended the session). A handle cut off from its server cannot
    /// tell it: the session and its ephemeral keys then go when the session expires, within its
    /// TTL.
    func close() async
}

// MARK: Conveniences, written once above the protocol.

extension CoordinationStore {
    public func create(_ key: Key, value: [UInt8] = [], mode: CreateMode = .persistent) async throws -> Record {
        try await create(key, value: value, mode: mode)
    }

    public func create(_ key: Key, string: String, mode: CreateMode = .persistent) async throws -> Record {
        try await create(key, value: Array(string.utf8), mode: mode)
    }

    public func set(_ key: Key, value: [UInt8]) async throws -> Record {
        try await set(key, value: value, ifVersion: nil)
    }

    public func set(_ key: Key, string: String, ifVersion: Int64? = nil) async throws -> Record {
        try await set(key, value: Array(string.utf8), ifVersion: ifVersion)
    }

    public func delete(_ key: Key, ifVersion: Int64? = nil) async throws {
        try await delete(key, ifVersion: ifVersion, recursive: false)
    }

    /// Deletes `key` whatever its version; with `recursive`, its whole subtree too.
    public func delete(_ key: Key, recursive: Bool) async throws {
        try await delete(key, ifVersion: nil, recursive: recursive)
    }

    public func watch(_ key: Key) -> AsyncThrowingStream<WatchEvent, any Error> {
        watch(key, scope: .key)
    }

    /// Creates `key` or, if it exists, overwrites its value (what `coord kv put` does). Credentials
    /// that may write the key but not create beside it (a ZooKeeper ACL) overwrite it too.
    /// - Returns: the record after the write.
    public func put(_ key: Key, value: [UInt8]) async throws -> Record {
        try CoordinationLimits.validate(value: value, for: key)
        while true {
            do {
                return try await create(key, value: value, mode: .persistent)
            } catch let error as CoordinationError where error.code == .nodeExists || error.code == .permissionDenied {
                // ZooKeeper checks the parent's ACL (may these credentials create?) before it
                // looks for the key, so a key that exists and that they may write is refused as a
                // create. Only the set tells; when it cannot either, the create's refusal stands.
                do {
                    return try await set(key, value: value, ifVersion: nil)
                } catch let setError as CoordinationError where error.code == .permissionDenied && [.noNode, .permissionDenied].contains(setError.code) {
                    throw error
                } catch let setError as CoordinationError where setError.code == .noNode {
                    continue  // deleted between the two calls: try creating again
                }
            }
        }
    }

    /// Waits until the session stream shows an event satisfying `condition` (the current state
    /// counts), for at most `limit` when one is given.
    /// - Returns: that event; `nil` when the time ran out or the stream ended (the handle closed).
    public func waitForSession(
        within limit: Duration? = nil, where condition: @escaping @Sendable (SessionEvent) -> Bool
    ) async -> SessionEvent? {
        let events = sessionEvents()
        return await withTaskGroup(of: SessionEvent?.self) { group in
            group.addTask {
                for await event in events where condition(event) { return event }
                return nil
            }
            if let limit {
                group.addTask {
                    try? await Task.sleep(for: limit)
                    return nil
                }
            }
            defer { group.cancelAll() }
            return await group.next() ?? nil
        }
    }

    /// Collects ``walk(_:)`` into an array.
    public func records(under key: Key) async throws -> [Record] {
        var result: [Record] = []
        for try await record in walk(key) { result.append(record) }
        return result
    }
}
