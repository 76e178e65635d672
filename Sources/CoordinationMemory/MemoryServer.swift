public import Coordination
public import Logging
import Synchronization

/// The embedded store's "server": one tree shared by every handle connected to it, with sessions
/// that expire on an injectable clock. Handles (``MemoryStore``) are made by ``connect(namespace:sessionTTL:logger:)``.
///
/// Everything happens under one lock, briefly and without I/O; watch events are delivered while
/// it is held, so every watcher sees changes in revision order.
public final class MemoryServer: Sendable {
    struct Watcher {
        let namespace: Key
        let key: Key  // physical
        let scope: WatchScope
        /// The handle that opened the watch (watches belong to handles, not to sessions).
        let handle: UInt64
        let continuation: AsyncThrowingStream<WatchEvent, any Error>.Continuation
        /// Paused while its handle is (simulated) cut off; resynced with a snapshot once contact is back.
        var paused = false
    }

    struct Session {
        let handle: UInt64
        let ttl: Duration
        /// Moves on at every cut and reconnect, so that an expiry armed for an earlier cut does nothing.
        var expiryGeneration = 0
        var disconnected = false
        /// While disconnected: when, on the server's clock, the session expires.
        var deadline: Duration?
        /// Told, with the session's id, when the session expires.
        let onExpiry: @Sendable (UInt64) -> Void
    }

    /// What contact coming back finds.
    enum Reconnection: Equatable {
        /// The handle was not cut off.
        case notCut
        /// The session outlived the cut; the handle's watchers resume with a snapshot.
        case sessionAlive
        /// The session expired during the cut: the handle learns it only now, as a ZooKeeper
        /// client does on reconnecting and an etcd client on its first keep-alive answered.
        case sessionEnded
    }

    struct State {
        var tree = MemoryTree()
        var sessions: [UInt64: Session] = [:]
        var watchers: [UInt64: Watcher] = [:]
        /// Handles cut off from the server (simulated). The cut belongs to the handle, not to its
        /// session: a session that expires during it does not heal it.
        var cutHandles: Set<UInt64> = []
        /// Watch events waiting to be handed over, in the order the changes were made. They are
        /// yielded only after the lock is released (see ``MemoryServer/mutate(_:)``).
        var outbox: [(continuation: AsyncThrowingStream<WatchEvent, any Error>.Continuation, event: WatchEvent)] = []
        var nextID: UInt64 = 1
        mutating func makeID() -> UInt64 {
            defer { nextID += 1 }
            return nextID
        }
    }

    let state = Mutex(State())
    /// Held while the outbox is handed over, so that events leave in the order they were queued.
    private let delivery = Mutex(())
    let logger: Logger
    private let now: @Sendable () -> Duration
    private let sleepUntil: @Sendable (Duration) async throws -> Void

    /// - Parameter clock: drives session expiry; a ``ManualClock`` lets a test expire sessions at once.
    public init<C: Clock>(clock: C = ContinuousClock(), logger: Logger = Logger(label: "coordination.memory"))
    where C.Duration == Duration {
        let start = clock.now
        self.now = { start.duration(to: clock.now) }
        self.sleepUntil = { offset in try await clock.sleep(until: start.advanced(by: offset), tolerance: nil) }
        self.logger = logger
    }

    private static let registry = Mutex<[String: MemoryServer]>([:])

    /// The process-wide server called `name` (`memory://NAME`; `""` for plain `memory://`).
    public static func named(_ name: String) -> MemoryServer {
        registry.withLock { servers in
            if let server = servers[name] { return server }
            let server = MemoryServer(logger: Logger(label: "coordination.memory"))
            servers[name] = server
            return server
        }
    }

    /// Opens a handle with a new session of `sessionTTL` under `namespace`.
    /// - Throws: `invalidConfiguration` for a TTL outside ``CoordinationLimits/sessionTTLRange``,
    ///   which the real backends refuse too.
    public func connect(
        namespace: Key = .root, sessionTTL: Duration = .seconds(10), logger: Logger? = nil
    ) async throws -> MemoryStore {
        try CoordinationLimits.validate(sessionTTL: sessionTTL)
        let store = MemoryStore(server: self, namespace: namespace, ttl: sessionTTL, logger: logger ?? self.logger)
        do {
            try store.ensureNamespaceExists()
        } catch {
            await store.close()
            throw error
        }
        return store
    }

    // MARK: Sessions

    func makeHandleID() -> UInt64 {
        state.withLock { $0.makeID() }
    }

    /// Starts a session for `handle`; its watchers (paused if it was cut off) resume with a fresh
    /// snapshot. A handle cut off meanwhile gets a session that is cut off too, and expires unless
    /// contact comes back in time.
    func openSession(handle: UInt64, ttl: Duration, onExpiry: @escaping @Sendable (UInt64) -> Void) -> UInt64 {
        let (id, armed) = mutate { state in
            let id = state.makeID()
            state.sessions[id] = Session(handle: handle, ttl: ttl, onExpiry: onExpiry)
            guard state.cutHandles.contains(handle) else {
                state.resumeWatchers(of: handle)
                return (id, nil as ExpiryTimer?)
            }
            return (id, state.cutOff(session: id, at: now()))
        }
        if let armed { arm(armed, session: id) }
        return id
    }

    /// Contact lost: the handle's calls fail and its watchers pause until ``reconnect(handle:session:)``;
    /// its session expires after its TTL on the server's clock unless contact comes back first.
    /// Returns `false` when the handle was cut off already.
    @discardableResult
    func disconnect(handle: UInt64, session id: UInt64) -> Bool {
        let cut: (newly: Bool, armed: ExpiryTimer?) = state.withLock { state in
            guard state.cutHandles.insert(handle).inserted else { return (false, nil) }
            for (watcherID, watcher) in state.watchers where watcher.handle == handle {
                state.watchers[watcherID]?.paused = true
            }
            return (true, state.cutOff(session: id, at: now()))
        }
        if let armed = cut.armed { arm(armed, session: id) }
        return cut.newly
    }

    /// When a cut-off session expires, and which cut armed it.
    struct ExpiryTimer {
        let generation: Int
        let deadline: Duration
    }

    private func arm(_ timer: ExpiryTimer, session id: UInt64) {
        Task { [weak self] in
            try await self?.sleepUntil(timer.deadline)
            self?.expire(session: id, ifGeneration: timer.generation)
        }
    }

    /// Contact back for `handle`, whose session is `id`. A session whose deadline the server's
    /// clock has passed is ended now, if its timer has not run yet: the server's clock decides,
    /// not which task runs first. Its expiry is then for the handle to report (``Reconnection/sessionEnded``).
    func reconnect(handle: UInt64, session id: UInt64) -> Reconnection {
        mutate { state in
            guard state.cutHandles.remove(handle) != nil else { return .notCut }
            guard var session = state.sessions[id] else { return .sessionEnded }
            if let deadline = session.deadline, deadline <= now() {
                state.endSession(id)
                logger.debug("memory session expired", metadata: ["session": "\(id)"])
                return .sessionEnded
            }
            session.disconnected = false
            session.deadline = nil
            session.expiryGeneration += 1
            state.sessions[id] = session
            state.resumeWatchers(of: handle)
            return .sessionAlive
        }
    }

    /// Ends the session as the server would after its TTL: its ephemeral keys go, then the handle
    /// is told (a handle cut off takes note only once contact is back).
    func expire(session id: UInt64, ifGeneration generation: Int? = nil) {
        let onExpiry: (@Sendable (UInt64) -> Void)? = mutate { state in
            guard let session = state.sessions[id] else { return nil }
            if let generation, session.expiryGeneration != generation || !session.disconnected { return nil }
            state.endSession(id)
            return session.onExpiry
        }
        if let onExpiry {
            logger.debug("memory session expired", metadata: ["session": "\(id)"])
            onExpiry(id)
        }
    }

    /// Ends the session because its handle closed: ephemeral keys go, watchers end with `unavailable`.
    /// A handle cut off (simulated) cannot tell the server: its session and ephemeral keys stay
    /// until the expiry armed by ``disconnect(session:)`` comes, as a ZooKeeper or etcd server
    /// keeps them for the TTL.
    func close(session id: UInt64, handle: UInt64) {
        let ended: [Watcher] = mutate { state in
            if state.sessions[id]?.disconnected != true { state.endSession(id) }
            state.cutHandles.remove(handle)
            var ended: [Watcher] = []
            for (watcherID, watcher) in state.watchers where watcher.handle == handle {
                state.watchers[watcherID] = nil
                ended.append(watcher)
            }
            return ended
        }
        // Outside the lock: finishing runs the stream's onTermination, which takes the lock again.
        for watcher in ended {
            watcher.continuation.finish(throwing: CoordinationError.closed())
        }
    }

    func isDisconnected(session id: UInt64) -> Bool {
        state.withLock { $0.sessions[id]?.disconnected ?? false }
    }

    /// Whether `handle` is cut off (simulated), whatever became of its session meanwhile.
    func isCut(handle: UInt64) -> Bool {
        state.withLock { $0.cutHandles.contains(handle) }
    }

    // MARK: Changes and reads

    /// Applies `steps` and tells the watchers. The only way the tree changes.
    func apply(_ steps: [MemoryTree.Step], namespace: Key) throws(CoordinationError) -> [MemoryTree.StepResult] {
        try mutate { state throws(CoordinationError) in try state.apply(steps, namespace: namespace) }
    }

    /// Runs `body` on the tree under the lock, for reads and for changes that depend on what is there.
    func withTree<T>(_ body: (inout State) throws(CoordinationError) -> T) throws(CoordinationError) -> T {
        try mutate { state throws(CoordinationError) in try body(&state) }
    }

    /// Adds a watcher. While its handle is cut off the watcher starts paused and gets its first
    /// snapshot when contact is back, as a ZooKeeper or etcd watch opened then keeps trying instead of ending.
    func addWatcher(_ watcher: Watcher) -> UInt64 {
        mutate { state in
            let id = state.makeID()
            var watcher = watcher
            watcher.paused = state.cutHandles.contains(watcher.handle)
            state.watchers[id] = watcher
            if !watcher.paused { state.outbox.append((watcher.continuation, .snapshot(state.snapshot(for: watcher)))) }
            return id
        }
    }

    /// Called from a stream's termination, which may run inside the runtime's task cancellation:
    /// it only takes the state lock and hands nothing over.
    func removeWatcher(_ id: UInt64) {
        _ = state.withLock { $0.watchers.removeValue(forKey: id) }
    }

    /// Runs `body` under the state lock, then hands the events it queued to their watchers.
    ///
    /// Never yield under the state lock: a yield may resume a waiting task, which takes that
    /// task's status lock, while a thread cancelling that same task holds its status lock and
    /// runs the stream's termination, which needs the state lock: a deadlock that hung whole
    /// test runs.
    func mutate<T, E: Error>(_ body: (inout State) throws(E) -> T) throws(E) -> T {
        defer { deliver() }
        return try state.withLock { state throws(E) in try body(&state) }
    }

    private func deliver() {
        delivery.withLock { _ in
            let batch = state.withLock { state in
                defer { state.outbox = [] }
                return state.outbox
            }
            for (continuation, event) in batch { continuation.yield(event) }
        }
    }
}

extension MemoryServer.State {
    mutating func apply(_ steps: [MemoryTree.Step], namespace: Key) throws(CoordinationError) -> [MemoryTree.StepResult] {
        // A write that went out in a session that has ended since, as on a server: an ephemeral
        // key made for it would belong to no live session, and nothing would ever remove it.
        for case .create(_, _, let mode, let owner) in steps where mode.isEphemeral && sessions[owner] == nil {
            throw CoordinationError(.sessionExpired, "the session ended before this write: its ephemeral keys are gone")
        }
        let (results, changes) = try tree.apply(steps, namespace: namespace)
        notify(changes)
        return results
    }

    /// Marks the session cut off and returns its expiry timer to arm; `nil` when it has ended or is cut off already.
    mutating func cutOff(session id: UInt64, at now: Duration) -> MemoryServer.ExpiryTimer? {
        guard var session = sessions[id], !session.disconnected else { return nil }
        session.disconnected = true
        session.expiryGeneration += 1
        session.deadline = now + session.ttl
        sessions[id] = session
        return MemoryServer.ExpiryTimer(generation: session.expiryGeneration, deadline: now + session.ttl)
    }

    /// Deletes the session's ephemeral keys in one revision and forgets it.
    mutating func endSession(_ id: UInt64) {
        guard sessions.removeValue(forKey: id) != nil else { return }
        let doomed = tree.ephemerals(of: id)
        guard !doomed.isEmpty else { return }
        // Ephemeral keys have no children, so these deletes cannot fail.
        _ = try? apply(doomed.map { .delete($0, ifVersion: nil) }, namespace: .root)
    }

    /// Un-pauses the handle's watchers, each with a fresh snapshot: events may have been missed.
    mutating func resumeWatchers(of handle: UInt64) {
        for (watcherID, watcher) in watchers where watcher.handle == handle && watcher.paused {
            watchers[watcherID]?.paused = false
            outbox.append((watcher.continuation, .snapshot(snapshot(for: watcher))))
        }
    }

    func snapshot(for watcher: MemoryServer.Watcher) -> [Record] {
        let keys: [Key] =
            switch watcher.scope {
            case .key: tree.node(watcher.key) == nil || watcher.key.isRoot ? [] : [watcher.key]
            case .subtree, .children, .grandchildren, .greatGrandchildren:
                tree.subtree(watcher.key).filter { !$0.isRoot && $0 != watcher.namespace && watcher.scope.covers($0, watched: watcher.key) }
            }
        return keys.compactMap { record(at: $0, namespace: watcher.namespace) }.sorted { $0.key < $1.key }
    }

    func record(at key: Key, namespace: Key) -> Record? {
        guard let node = tree.node(key), let relative = key.relative(to: namespace), !relative.isRoot else { return nil }
        return Record(node, at: relative)
    }

    private mutating func notify(_ changes: [MemoryTree.Change]) {
        for watcher in watchers.values where !watcher.paused {
            for change in changes {
                switch change {
                case .put(let key, let node):
                    guard watcher.covers(key), let relative = key.relative(to: watcher.namespace) else { continue }
                    outbox.append((watcher.continuation, .put(Record(node, at: relative))))
                case .delete(let key):
                    guard watcher.covers(key), let relative = key.relative(to: watcher.namespace) else { continue }
                    outbox.append((watcher.continuation, .delete(relative)))
                }
            }
        }
    }
}

extension MemoryServer.Watcher {
    func covers(_ key: Key) -> Bool {
        if key == namespace { return false }  // the namespace node is the handle's root: never reported
        return scope.covers(key, watched: self.key)
    }
}

extension Record {
    init(_ node: MemoryNode, at key: Key) {
        self.init(
            key: key, value: node.value, version: node.version, createRevision: node.createRevision,
            modRevision: node.modRevision, isEphemeral: node.isEphemeral,
            ownerSession: node.isEphemeral ? MemoryStore.name(node.owner) : nil)
    }
}
