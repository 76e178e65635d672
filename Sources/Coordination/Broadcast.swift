import Synchronization

/// A value that many subscribers follow: each new subscriber first gets the current value, then
/// every change, until ``finish()``. Backends use it for session states; it never blocks, and a
/// slow subscriber only grows its own buffer.
public final class Broadcast<Element: Sendable>: Sendable {
    private struct State {
        var current: Element
        var subscribers: [Int: AsyncStream<Element>.Continuation] = [:]
        var nextID = 0
        var finished = false
    }
    private let state: Mutex<State>

    public init(_ initial: Element) {
        state = Mutex(State(current: initial))
    }

    /// The latest value.
    public var current: Element { state.withLock { $0.current } }

    /// Sets the current value and delivers it to every subscriber. Ignored after ``finish()``.
    public func send(_ value: Element) {
        let continuations: [AsyncStream<Element>.Continuation] = state.withLock { state in
            guard !state.finished else { return [] }
            state.current = value
            return Array(state.subscribers.values)
        }
        for continuation in continuations { continuation.yield(value) }
    }

    /// Updates the current value with `change` atomically, delivering the result.
    public func update(_ change: (inout Element) -> Void) {
        let (value, continuations): (Element, [AsyncStream<Element>.Continuation]) = state.withLock { state in
            guard !state.finished else { return (state.current, []) }
            change(&state.current)
            return (state.current, Array(state.subscribers.values))
        }
        for continuation in continuations { continuation.yield(value) }
    }

    /// A stream of the current value and every later one.
    public func subscribe() -> AsyncStream<Element> {
        let (stream, continuation) = AsyncStream<Element>.makeStream()
        let registered: Element? = state.withLock { state in
            if state.finished { return nil }
            let id = state.nextID
            state.nextID += 1
            state.subscribers[id] = continuation
            continuation.onTermination = { [weak self] _ in
                self?.state.withLock { _ = $0.subscribers.removeValue(forKey: id) }
            }
            // Yield under the lock so that no later `send` can overtake the first value.
            continuation.yield(state.current)
            return state.current
        }
        if registered == nil {
            continuation.yield(current)
            continuation.finish()
        }
        return stream
    }

    /// Ends every stream, after delivering `last` if given.
    public func finish(with last: Element? = nil) {
        let continuations: [AsyncStream<Element>.Continuation] = state.withLock { state in
            guard !state.finished else { return [] }
            if let last { state.current = last }
            state.finished = true
            defer { state.subscribers = [:] }
            return Array(state.subscribers.values)
        }
        for continuation in continuations {
            if let last { continuation.yield(last) }
            continuation.finish()
        }
    }
}

extension Broadcast where Element == SessionEvent {
    /// Moves the current event's ``SessionEvent/lastContact`` on to `instant`, telling no
    /// subscriber: a contact confirmed while `connected` or `reconnected` changes no state
    /// (contract clause 7). Ignored in any other state, so that a late confirmation cannot
    /// undo a `suspended` reported meanwhile, and never moves it back: a confirmation from
    /// before a new session started leaves that session's first contact as it is.
    public func noteContact(at instant: ContinuousClock.Instant) {
        state.withLock { state in
            guard !state.finished, state.current.state == .connected || state.current.state == .reconnected else { return }
            state.current.lastContact = max(state.current.lastContact, instant)
        }
    }

    /// Waits for a session event (the current one first) that `isWanted` accepts: `true`; `false`
    /// once the handle is closed or `timeout` passed without one. For a call that met an expiry
    /// and goes on in the session that replaces it.
    public func awaitSession(within timeout: Duration, where isWanted: @escaping @Sendable (SessionEvent) -> Bool) async -> Bool {
        await withTaskGroup(of: Bool.self) { group in
            group.addTask { [self] in
                for await event in subscribe() {
                    if event.state == .closed { return false }
                    if isWanted(event) { return true }
                }
                return false
            }
            group.addTask {
                try? await Task.sleep(for: timeout)
                return false
            }
            let found = await group.next() ?? false
            group.cancelAll()
            return found
        }
    }
}
