public import Coordination

/// Runs work that is only valid while one session stays trustworthy, and cancels it the moment
/// it is not (contract clause 7): when the session expires or is replaced, when the handle closes,
/// or when it has been suspended for longer than its TTL since the last confirmed contact.
public enum SessionGuard {
    /// Runs `body`; if the session `sessionID` of `store` is lost first, cancels `body` and throws
    /// ``RecipeError/sessionLost(_:)``.
    /// - Parameter margin: how long before the end of a suspended session's safe window to give up
    ///   (see ``waitUntilLost(store:sessionID:margin:)``).
    public static func run<T: Sendable>(
        store: any CoordinationStore, sessionID: String, margin: Duration = .zero,
        _ body: @escaping @Sendable () async throws -> T
    ) async throws -> T {
        // Subscribed before `body` starts, not in the monitor's own task, which may start later:
        // a test that counts session streams took the leader as watched while its monitor had
        // not subscribed yet, and its injected outage came and went unseen (once, loaded CI).
        let events = store.sessionEvents()
        return try await withThrowingTaskGroup(of: T?.self) { group in
            group.addTask { try await body() }
            group.addTask {
                try await waitUntilLost(events: events, sessionID: sessionID, margin: margin)
                return nil
            }
            defer { group.cancelAll() }
            guard let first = try await group.next(), let value = first else {
                // Only the monitor returns nil, and it returns only by throwing; keep the compiler honest.
                throw RecipeError.sessionLost("session monitor ended")
            }
            return value
        }
    }

    /// Returns never; throws ``RecipeError/sessionLost(_:)`` once `sessionID` can no longer be trusted,
    /// or `CancellationError` when cancelled.
    /// - Parameter margin: a suspended session is given up this long before its safe window ends
    ///   (``SessionEvent/safeUntil``). That end is the earliest instant the server may end the
    ///   session and someone else take over what it held: work that needs time to stop after its
    ///   cancellation must be cancelled that long before it.
    public static func waitUntilLost(store: any CoordinationStore, sessionID: String, margin: Duration = .zero) async throws {
        try await waitUntilLost(events: store.sessionEvents(), sessionID: sessionID, margin: margin)
    }

    /// ``waitUntilLost(store:sessionID:margin:)`` on a session stream already subscribed to.
    private static func waitUntilLost(events: AsyncStream<SessionEvent>, sessionID: String, margin: Duration) async throws {
        enum Signal: Sendable {
            case event(SessionEvent)
            case deadline(generation: Int)
            case streamEnded
        }
        let (signals, signal) = AsyncStream<Signal>.makeStream()
        try await withThrowingTaskGroup(of: Void.self) { group in
            defer { group.cancelAll() }
            group.addTask {
                for await event in events { signal.yield(.event(event)) }
                signal.yield(.streamEnded)
            }
            var generation = 0
            for await next in signals {
                try Task.checkCancellation()
                switch next {
                case .event(let event):
                    generation += 1
                    if event.sessionID != sessionID {
                        throw RecipeError.sessionLost("session \(sessionID) was replaced by \(event.sessionID)")
                    }
                    switch event.state {
                    case .expired: throw RecipeError.sessionLost("session \(sessionID) expired")
                    case .closed: throw RecipeError.sessionLost("the store handle was closed")
                    case .connected, .reconnected: continue
                    case .suspended:
                        guard let deadline = event.safeUntil?.advanced(by: .zero - margin) else { continue }
                        let armed = generation
                        group.addTask {
                            try await Task.sleep(until: deadline, clock: .continuous)
                            signal.yield(.deadline(generation: armed))
                        }
                    }
                case .deadline(let armed):
                    if armed == generation {
                        throw RecipeError.sessionLost(
                            margin > .zero
                                ? "session \(sessionID) was suspended until \(margin) before the end of its TTL"
                                : "session \(sessionID) was suspended for longer than its TTL")
                    }
                case .streamEnded:
                    throw RecipeError.sessionLost("the store handle was closed")
                }
            }
            throw CancellationError()
        }
    }
}

/// Failures that belong to recipes rather than to the store.
public enum RecipeError: Error, Sendable, Hashable, CustomStringConvertible {
    /// What was held (a lock, leadership, a run) can no longer be trusted: the session expired,
    /// was suspended beyond its safe window, or the handle closed. The work was cancelled.
    case sessionLost(String)
    /// A guarded write found that the lock (or claim) is no longer held by this holder.
    case notHeld(Key)
    /// `withLock(timeout:)` (or leadership, a permit) gave up: another holder kept it for the
    /// whole timeout, and the body did not run. Not `CoordinationError.timeout`, which says the
    /// store itself was too slow to answer.
    case notAcquired(String)

    public var description: String {
        switch self {
        case .sessionLost(let why): why
        case .notHeld(let key): "no longer held: \(key) is gone"
        case .notAcquired(let what): what
        }
    }
}
