import Coordination
import Synchronization

/// What one running check works with: the harness, its own random namespace, and every handle
/// and stream it opened, so that all of them are closed when the check ends, even on failure.
final class CheckContext: Sendable {
    let harness: any ConformanceHarness
    /// The check's namespace on the real store, for example `/conformance-1f3a9c07d2e4`.
    let namespace: Key
    /// The bound on every wait for an event.
    let timeout: Duration

    private struct Resources {
        var stores: [any CoordinationStore] = []
        var cancellations: [@Sendable () -> Void] = []
        /// Handles ``cut(_:)`` ever cut off, healed again at the end (healing twice is harmless).
        var cut: [any CoordinationStore] = []
    }
    private let resources = Mutex(Resources())

    init(harness: any ConformanceHarness, namespace: Key, timeout: Duration) {
        self.harness = harness
        self.namespace = namespace
        self.timeout = timeout
    }

    var backendName: String { harness.backendName }

    /// Opens a handle at the check's namespace, or at `subNamespace` beneath it.
    func open(_ subNamespace: Key = .root) async throws -> any CoordinationStore {
        let store = try await harness.openStore(namespace: namespace.appending(subNamespace))
        resources.withLock { $0.stores.append(store) }
        return store
    }

    /// Watches `key` on `store`; the stream is consumed in the background and cancelled at the end.
    func watch(_ store: any CoordinationStore, _ key: Key, scope: WatchScope = .key) -> WatchCursor {
        let inbox = EventInbox(store.watch(key, scope: scope), label: "watch of \(key) (\(scope.rawValue))", timeout: timeout)
        resources.withLock { $0.cancellations.append { inbox.cancel() } }
        return WatchCursor(inbox: inbox, timeout: timeout)
    }

    /// Follows `store`'s session states.
    func sessionEvents(_ store: any CoordinationStore) -> EventInbox<SessionEvent> {
        let inbox = EventInbox(store.sessionEvents(), label: "session stream", timeout: timeout)
        resources.withLock { $0.cancellations.append { inbox.cancel() } }
        return inbox
    }

    /// Cuts `store` (opened by ``open(_:)``) off from the server until ``heal(_:)``; a check that
    /// fails meanwhile leaves it to ``finish()`` to heal.
    func cut(_ store: any CoordinationStore) async throws {
        resources.withLock { $0.cut.append(store) }
        try await harness.cutConnection(of: store)
    }

    func heal(_ store: any CoordinationStore) async throws {
        try await harness.healConnection(of: store)
    }

    /// Closes every handle and stops every stream the check opened.
    func finish() async {
        let taken = resources.withLock { resources in
            defer { resources = Resources() }
            return resources
        }
        for cancel in taken.cancellations { cancel() }
        // Healed first, so that closing ends their sessions on the server at once.
        for store in taken.cut { try? await harness.healConnection(of: store) }
        for store in taken.stores { await store.close() }
    }
}

extension EventInbox where Element == SessionEvent {
    /// Takes session events until one in `state` arrives, and returns it.
    func until(_ state: SessionState, file: String = #fileID, line: Int = #line) async throws -> SessionEvent {
        while true {
            let event = try await next("session state \(state.rawValue)", file: file, line: line)
            if event.state == state { return event }
        }
    }
}

extension EventInbox where Element == SessionEvent {
    /// Takes session events until one in `state` arrives for session `sessionID`, and returns it;
    /// fails at once on an event saying that session is lost or replaced (expired, closed, another
    /// sessionID), or that contact came back as a new session (`connected`) instead of `reconnected`.
    func until(
        _ state: SessionState, sameSession sessionID: String, file: String = #fileID, line: Int = #line
    ) async throws -> SessionEvent {
        while true {
            let event = try await next("session state \(state.rawValue) of session \(sessionID)", file: file, line: line)
            if event.state == state && event.sessionID == sessionID { return event }
            if event.sessionID != sessionID || [.expired, .closed, .connected].contains(event.state) {
                throw failure(
                    "awaiting \(state.rawValue) of session \(sessionID), the session stream reported "
                        + "\(event.state.rawValue) of session \(event.sessionID)",
                    file: file, line: line)
            }
        }
    }
}

/// A watch as a consumer sees it: the events, and the state they add up to (``Dictionary/apply(_:)``).
final class WatchCursor {
    let inbox: EventInbox<WatchEvent>
    let timeout: Duration
    /// The state the events received so far add up to.
    private(set) var state: [Key: Record] = [:]

    init(inbox: EventInbox<WatchEvent>, timeout: Duration) {
        self.inbox = inbox
        self.timeout = timeout
    }

    /// The next event, applied to ``state``.
    func next(_ what: @autoclosure () -> String, file: String = #fileID, line: Int = #line) async throws -> WatchEvent {
        let event = try await inbox.next(what(), file: file, line: line)
        state.apply(event)
        return event
    }

    /// The first element, which must be a snapshot.
    func snapshot(file: String = #fileID, line: Int = #line) async throws -> [Record] {
        let event = try await next("the initial snapshot", file: file, line: line)
        guard case .snapshot(let records) = event else {
            throw failure("the first element of \(inbox.label) must be a snapshot, got \(event)", file: file, line: line)
        }
        return records
    }

    /// Applies events until `condition` holds on ``state`` (checked first, before any wait), calling
    /// `inspect` on each event; fails if it does not hold within the timeout.
    func until(
        _ what: @autoclosure () -> String, file: String = #fileID, line: Int = #line,
        inspect: (WatchEvent, [Key: Record]) throws -> Void = { _, _ in },
        _ condition: ([Key: Record]) -> Bool
    ) async throws {
        let description = what()
        let deadline = ContinuousClock.now.advanced(by: timeout)
        while !condition(state) {
            guard ContinuousClock.now < deadline else {
                throw failure("timed out after \(timeout) on \(inbox.label) awaiting \(description); state: \(Self.describe(state))", file: file, line: line)
            }
            let event = try await next(description, file: file, line: line)
            try inspect(event, state)
        }
    }

    /// ``until(_:file:line:inspect:_:)``, returning the keys reported in `delete` events meanwhile.
    func deletions(
        until what: @autoclosure () -> String, file: String = #fileID, line: Int = #line,
        inspect: (WatchEvent, [Key: Record]) throws -> Void = { _, _ in },
        _ condition: ([Key: Record]) -> Bool
    ) async throws -> Set<Key> {
        var deleted: Set<Key> = []
        try await until(what(), file: file, line: line, inspect: { event, state in
            if case .delete(let key) = event { deleted.insert(key) }
            try inspect(event, state)
        }, condition)
        return deleted
    }

    static func describe(_ state: [Key: Record]) -> String {
        "[" + state.keys.sorted().map { key in "\(key)@v\(state[key]!.version)" }.joined(separator: ", ") + "]"
    }
}
