public import Coordination
import Logging
import Synchronization

/// A handle on a ``MemoryServer``: the full store contract in one process, with its own session.
///
/// Besides the contract it offers test hooks that stand in for a network: ``simulateDisconnect()``,
/// ``simulateReconnect()`` and ``expireSession()``. While disconnected, reads fail with `unavailable`
/// and writes with `connectionLoss`, as on the real backends, and watch streams are paused; they
/// resume with a fresh snapshot. The cut is the handle's: a session that expires during it ends on
/// the server (its ephemeral keys go) but the handle stays cut off and `suspended`, and reports
/// `expired` only when contact comes back, as a ZooKeeper or etcd client does. A handle closed while
/// disconnected leaves its session, ephemeral keys and all, to expire after the TTL on the server's
/// clock, as a real server that never heard the close does.
public final class MemoryStore: CoordinationStore {
    public let namespace: Key
    let server: MemoryServer
    let ttl: Duration
    let logger: Logger
    let handleID: UInt64

    private struct HandleState {
        var sessionID: UInt64 = 0
        var closed = false
        /// The last session whose expiry the handle took in: the server's timer and a reconnect
        /// may both tell of one expiry, and only one new session must follow it.
        var expiryTakenIn: UInt64 = 0
    }
    private let handle = Mutex(HandleState())
    private let sessionBroadcast: Broadcast<SessionEvent>
    /// Held through each change of the handle's contact or session (a cut, contact back, an
    /// expiry taken in), so that one never reads the session another is replacing: an expiry
    /// taken in as a cut began left the new session uncut, never to expire, under a cut handle.
    private let sessionTransitions = Mutex(())

    init(server: MemoryServer, namespace: Key, ttl: Duration, logger: Logger) {
        self.server = server
        self.namespace = namespace
        self.ttl = ttl
        self.logger = logger
        self.handleID = server.makeHandleID()
        self.sessionBroadcast = Broadcast(
            SessionEvent(state: .connected, sessionID: "", ttl: ttl, lastContact: .now))
        startSession()
    }

    /// Opens the first session and reports it `connected`.
    private func startSession() {
        guard let id = openSession() else { return }
        announce(id)
    }

    /// Opens a new session and makes it the handle's; `nil` when the handle is closed.
    private func openSession() -> UInt64? {
        let id = server.openSession(handle: handleID, ttl: ttl) { [weak self] ended in
            self?.sessionDidExpire(ended)
        }
        let proceed: Bool = handle.withLock { state in
            guard !state.closed else { return false }
            state.sessionID = id
            return true
        }
        guard proceed else {
            server.close(session: id, handle: handleID)
            return nil
        }
        logger.debug("memory session started", metadata: ["session": "\(id)"])
        return id
    }

    private func announce(_ id: UInt64) {
        sessionBroadcast.send(SessionEvent(state: .connected, sessionID: Self.name(id), ttl: ttl, lastContact: .now))
    }

    /// The server ended session `ended`. A handle cut off cannot hear it: ``simulateReconnect()``
    /// finds the session gone and reports it then.
    private func sessionDidExpire(_ ended: UInt64) {
        sessionTransitions.withLock { _ in
            guard !server.isCut(handle: handleID) else { return }
            takeInExpiry(of: ended)
        }
    }

    /// Called under ``sessionTransitions``. The new session is the handle's before `expired` is reported: a caller that creates its
    /// ephemeral keys again on reading it gets them in the new session (clause 7). Reported
    /// first, a create could still go out in the ended one and, refused, fail for nothing.
    private func takeInExpiry(of ended: UInt64) {
        let proceed: Bool = handle.withLock { state in
            guard !state.closed, state.sessionID == ended, state.expiryTakenIn != ended else { return false }
            state.expiryTakenIn = ended
            return true
        }
        guard proceed else { return }
        let lastContact = sessionBroadcast.current.lastContact
        let new = openSession()
        sessionBroadcast.send(SessionEvent(state: .expired, sessionID: Self.name(ended), ttl: ttl, lastContact: lastContact))
        if let new { announce(new) }
    }

    /// The handle's session now, as the server numbers it.
    var sessionNumber: UInt64 { handle.withLock { $0.sessionID } }

    /// How a session is spelled in ``SessionEvent/sessionID`` and ``Record/ownerSession``.
    static func name(_ id: UInt64) -> String { "memory-\(id)" }

    // MARK: Test hooks

    /// Simulates lost contact: the session is `suspended`, and the server expires it after the TTL
    /// on its clock unless ``simulateReconnect()`` comes first. Until then every call fails, even
    /// once the session has expired: the handle learns of that only when contact is back.
    public func simulateDisconnect() {
        sessionTransitions.withLock { _ in
            let (id, closed) = handle.withLock { ($0.sessionID, $0.closed) }
            guard !closed, !server.isCut(handle: handleID) else { return }
            // Contact was confirmed until now: the safe window runs one TTL from this moment.
            sessionBroadcast.update {
                $0.state = .suspended
                $0.lastContact = .now
            }
            server.disconnect(handle: handleID, session: id)
        }
    }

    /// Simulates contact coming back: `reconnected` if the session is still alive on the server's
    /// clock (watches resync with a snapshot); if it expired meanwhile, `expired`, then `connected`
    /// on a new session (watches resync on it). A closed handle stays closed: the session it left
    /// behind still expires on the server's clock.
    public func simulateReconnect() {
        sessionTransitions.withLock { _ in
            let (id, closed) = handle.withLock { ($0.sessionID, $0.closed) }
            guard !closed else { return }
            switch server.reconnect(handle: handleID, session: id) {
            case .notCut:
                return
            case .sessionAlive:
                sessionBroadcast.send(SessionEvent(state: .reconnected, sessionID: Self.name(id), ttl: ttl, lastContact: .now))
            case .sessionEnded:
                takeInExpiry(of: id)
            }
        }
    }

    /// Expires the session now, as the server would after the TTL: ephemeral keys go, the handle
    /// reports `expired`, then `connected` on a new session; a handle cut off reports them once
    /// ``simulateReconnect()`` brings contact back.
    public func expireSession() async {
        let id = handle.withLock { $0.sessionID }
        server.expire(session: id)
    }

    // MARK: CoordinationStore

    public var session: SessionEvent {
        var current = sessionBroadcast.current
        // In-process, contact is confirmed at every moment the session is not cut.
        if current.state == .connected || current.state == .reconnected { current.lastContact = .now }
        return current
    }

    public func sessionEvents() -> AsyncStream<SessionEvent> { sessionBroadcast.subscribe() }

    public func get(_ key: Key) async throws -> Record? {
        try refuseRoot(key, "read")
        _ = try usableSession(reading: true)
        let path = physical(key)
        return try server.withTree { state in state.record(at: path, namespace: namespace) }
    }

    public func exists(_ key: Key) async throws -> Bool {
        _ = try usableSession(reading: true)
        if key.isRoot { return true }
        let path = physical(key)
        return try server.withTree { state in state.tree.node(path) != nil }
    }

    public func create(_ key: Key, value: [UInt8], mode: CreateMode) async throws -> Record {
        try CoordinationLimits.validate(value: value, for: key)
        try CoordinationLimits.validate(create: key, mode: mode)
        try refuseRoot(key, "created")
        let owner = try usableSession()
        let path = physical(key)
        let namespace = namespace
        return try server.withTree { state throws(CoordinationError) in
            // Missing ancestors first, as empty persistent keys, in the same revision as the key.
            var steps: [MemoryTree.Step] = []
            for ancestor in path.ancestors where state.tree.node(ancestor) == nil {
                steps.append(.create(ancestor, value: [], mode: .persistent, owner: owner))
            }
            steps.append(.create(path, value: value, mode: mode, owner: owner))
            let results: [MemoryTree.StepResult]
            do throws(CoordinationError) {
                results = try state.apply(steps, namespace: namespace)
            } catch {
                throw error.outsideTransaction
            }
            guard case .created(let createdKey, let node) = results.last else {
                throw CoordinationError(.unavailable, "memory store: create produced no record")
            }
            return Record(node, at: createdKey.relative(to: namespace) ?? createdKey)
        }
    }

    public func set(_ key: Key, value: [UInt8], ifVersion: Int64?) async throws -> Record {
        try CoordinationLimits.validate(value: value, for: key)
        try refuseRoot(key, "set")
        let results: [MemoryTree.StepResult]
        do throws(CoordinationError) {
            results = try apply([.set(physical(key), value: value, ifVersion: ifVersion)])
        } catch {
            throw error.outsideTransaction
        }
        guard case .set(_, let node) = results.first else {
            throw CoordinationError(.unavailable, "memory store: set produced no record")
        }
        return Record(node, at: key)
    }

    public func delete(_ key: Key, ifVersion: Int64?, recursive: Bool) async throws {
        if key.isRoot && !recursive {
            throw CoordinationError.rootDeleteRefused()
        }
        _ = try usableSession()
        let path = physical(key)
        let namespace = namespace
        try server.withTree { state throws(CoordinationError) in
            var steps: [MemoryTree.Step]
            if recursive {
                var doomed = state.tree.subtree(path)
                if key.isRoot {
                    doomed.removeFirst(doomed.isEmpty ? 0 : 1)  // the namespace node itself stays
                } else if doomed.isEmpty {
                    throw CoordinationError.noNode(key)
                }
                steps = doomed.reversed().map { .delete($0, ifVersion: $0 == path ? ifVersion : nil) }
            } else {
                steps = [.delete(path, ifVersion: ifVersion)]
            }
            do throws(CoordinationError) {
                _ = try state.apply(steps, namespace: namespace)
            } catch {
                throw error.outsideTransaction
            }
        }
    }

    public func children(of key: Key) async throws -> [String] {
        _ = try usableSession(reading: true)
        let path = physical(key)
        return try server.withTree { state throws(CoordinationError) in
            guard let node = state.tree.node(path) else {
                if key.isRoot { return [] }
                throw CoordinationError.noNode(key)
            }
            return node.children.sorted().map(\.name)
        }
    }

    public func walk(_ key: Key) -> AsyncThrowingStream<Record, any Error> {
        let records: Result<[Record], CoordinationError> = Result { () throws(CoordinationError) in
            _ = try usableSession(reading: true)
            let path = physical(key)
            let namespace = namespace
            return try server.withTree { state in
                state.tree.subtree(path).compactMap { state.record(at: $0, namespace: namespace) }
            }
        }
        return AsyncThrowingStream { continuation in
            switch records {
            case .success(let records):
                for record in records { continuation.yield(record) }
                continuation.finish()
            case .failure(let error):
                continuation.finish(throwing: error)
            }
        }
    }

    public func transaction(_ operations: [Operation]) async throws -> [OperationResult] {
        try CoordinationLimits.validate(transaction: operations)
        let steps: [MemoryTree.Step] = try operations.map { operation in
            switch operation {
            case .check(let key, let version): .check(physical(key), version: version)
            case .create(let key, let value, let mode): .create(physical(key), value: value, mode: mode, owner: try usableSession())
            case .set(let key, let value, let ifVersion): .set(physical(key), value: value, ifVersion: ifVersion)
            case .delete(let key, let ifVersion): .delete(physical(key), ifVersion: ifVersion)
            }
        }
        if operations.createsBeneathRoot {
            try ensureNamespaceExists()
        }
        let results: [MemoryTree.StepResult]
        do throws(CoordinationError) {
            results = try apply(steps)
        } catch {
            guard let index = error.failedOperation else { throw error }
            var plain = error
            plain.failedOperation = nil
            throw plain.inTransaction(operation: index, of: operations.count)
        }
        return results.map { result in
            switch result {
            case .checked: .checked
            case .created(let key, let node): .created(Record(node, at: key.relative(to: namespace) ?? key))
            case .set(let key, let node): .set(Record(node, at: key.relative(to: namespace) ?? key))
            case .deleted: .deleted
            }
        }
    }

    public func watch(_ key: Key, scope: WatchScope) -> AsyncThrowingStream<WatchEvent, any Error> {
        let (stream, continuation) = AsyncThrowingStream<WatchEvent, any Error>.makeStream()
        if handle.withLock({ $0.closed }) {
            continuation.finish(throwing: CoordinationError.closed())
            return stream
        }
        let watcher = MemoryServer.Watcher(
            namespace: namespace, key: physical(key), scope: scope, handle: handleID, continuation: continuation)
        let id = server.addWatcher(watcher)
        continuation.onTermination = { [server] _ in server.removeWatcher(id) }
        return stream
    }

    public func close() async {
        let id: UInt64? = handle.withLock { state in
            guard !state.closed else { return nil }
            state.closed = true
            return state.sessionID
        }
        guard let id else { return }
        server.close(session: id, handle: handleID)
        sessionBroadcast.finish(
            with: SessionEvent(state: .closed, sessionID: Self.name(id), ttl: ttl, lastContact: .now))
    }

    // MARK: Helpers

    private func physical(_ key: Key) -> Key { namespace.appending(key) }

    /// The current session id, or the error that stops any operation now. A read cut off is
    /// `unavailable` (nothing can be unknown about it); a write is `connectionLoss`, as a real
    /// backend that cannot tell whether its request left says it. The cut is the handle's, so
    /// calls keep failing after its session expired during the cut.
    private func usableSession(reading: Bool = false) throws(CoordinationError) -> UInt64 {
        let (id, closed) = handle.withLock { ($0.sessionID, $0.closed) }
        if closed { throw .closed() }
        if server.isCut(handle: handleID) {
            throw CoordinationError(reading ? .unavailable : .connectionLoss, "the memory store handle is disconnected (simulated)")
        }
        return id
    }

    private func refuseRoot(_ key: Key, _ what: String) throws(CoordinationError) {
        if key.isRoot { throw CoordinationError.rootRefused(what) }
    }

    /// Makes the namespace's key (and its ancestors) exist, when the handle opens and before a
    /// transaction creates directly beneath it: the namespace is this handle's root, which always
    /// exists (inside a transaction a create needs its parent), and a handle at a parent namespace
    /// sees it among its children, as on ZooKeeper and etcd.
    func ensureNamespaceExists() throws(CoordinationError) {
        guard !namespace.isRoot else { return }
        let owner = try usableSession()
        let namespace = namespace
        try server.withTree { state throws(CoordinationError) in
            let missing = (namespace.ancestors + [namespace]).filter { state.tree.node($0) == nil }
            guard !missing.isEmpty else { return }
            _ = try state.apply(missing.map { .create($0, value: [], mode: .persistent, owner: owner) }, namespace: .root)
        }
    }

    private func apply(_ steps: [MemoryTree.Step]) throws(CoordinationError) -> [MemoryTree.StepResult] {
        _ = try usableSession()
        return try server.apply(steps, namespace: namespace)
    }
}

extension CoordinationError {
    /// The error of steps that stand for one operation, not a transaction: it names no operation
    /// index, as on the other backends.
    fileprivate var outsideTransaction: CoordinationError {
        var plain = self
        plain.failedOperation = nil
        return plain
    }
}

extension MemoryStore: SequenceCounterAdvancing {
    public func advanceSequenceCounter(under parent: Key, past number: Int64) async throws -> Bool {
        try CoordinationLimits.validate(sequenceNumberToPass: number, under: parent)
        _ = try usableSession()
        let path = physical(parent)
        return try server.withTree { state throws(CoordinationError) in
            guard let moved = state.tree.advanceSequence(of: path, past: number) else { throw CoordinationError.noNode(parent) }
            return moved
        }
    }
}
