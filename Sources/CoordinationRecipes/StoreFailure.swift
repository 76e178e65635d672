package import Coordination

/// Store failures a long-lived recipe waits out instead of giving up: contact lost, a time-out,
/// a server that cannot serve now, a session replaced after an expiry. A closed handle, refused
/// credentials or a bad key do not pass by themselves and are thrown.
package enum StoreFailure {
    package static func mayPass(_ error: any Error, store: any CoordinationStore) -> Bool {
        guard let error = error as? CoordinationError, store.session.state != .closed else { return false }
        return [.connectionLoss, .timeout, .unavailable, .sessionExpired].contains(error.code)
    }

    /// Runs `removal` in a task of its own (so a cancelled caller still gets it done) until it
    /// succeeds, fails for good, or session `sessionID` can no longer hold what it removes (see
    /// ``SequentialQueue/mayStillHold(_:_:now:)``): what a recipe giving up uses to take its
    /// ephemeral entry away through store errors, so nothing of it is left while its handle lives.
    /// - Returns: `false` when it stopped because the session may be gone (out of contact too
    ///   long, expired, replaced, or closed) rather than because the removal is done or hopeless.
    @discardableResult
    package static func retryingWhileHeld(
        in store: any CoordinationStore, by sessionID: String, _ removal: @escaping @Sendable () async throws -> Void
    ) async -> Bool {
        if case .sessionMayBeGone = await retrying(in: store, by: sessionID, removal) { return false }
        return true
    }

    /// How ``retrying(in:by:_:)`` ended.
    package enum RemovalOutcome: Sendable {
        case done
        /// A failure that will not pass: nothing would change it.
        case failed(any Error)
        /// Stopped because the session may be gone (out of contact too long, expired, replaced, closed).
        case sessionMayBeGone
    }

    /// ``retryingWhileHeld(in:by:_:)``, telling a failure that will not pass from success.
    package static func retrying(
        in store: any CoordinationStore, by sessionID: String, _ removal: @escaping @Sendable () async throws -> Void
    ) async -> RemovalOutcome {
        await Task {
            var backoff = Backoff(first: .milliseconds(20), cap: .seconds(1))
            while true {
                do {
                    try await removal()
                    return .done
                } catch {
                    guard mayPass(error, store: store) else { return .failed(error) }
                    guard SequentialQueue.mayStillHold(store.session, sessionID) else { return .sessionMayBeGone }
                    try? await backoff.pause()
                }
            }
        }.value
    }

    /// ``retryingWhileHeld(in:by:_:)``, then, if that gave up out of contact, the removal is made
    /// again each time contact comes back in session `sessionID`, until it is done or the session
    /// ends. A session out of contact for longer than it can last may still live: a ZooKeeper
    /// server restored from its snapshot, or an etcd leader change, renews sessions. What it made
    /// is then still there once the handle reconnects, and, left, it would block this handle's
    /// own next attempt for as long as the session lives. The caller does not wait for that:
    /// the retries after reconnection run in a task of their own.
    ///
    /// Only for removals that cannot touch anything made after the caller gave up (a sequential
    /// key, or a key checked for a marker of its own), since they may land much later.
    package static func retryingUntilSessionEnds(
        in store: any CoordinationStore, by sessionID: String, _ removal: @escaping @Sendable () async throws -> Void
    ) async {
        if await retryingWhileHeld(in: store, by: sessionID, removal) { return }
        retryingOnceBackInSession(in: store, by: sessionID, removal)
    }

    /// The second half of ``retryingUntilSessionEnds(in:by:_:)``, for a caller whose own retries
    /// (``retrying(in:by:_:)``) stopped because the session may be gone: the removal is made
    /// again each time contact comes back in session `sessionID`, until it is done or the session
    /// ends, in a task of its own. Not the first half again: one more request to a server out of
    /// contact had the caller wait out its time-out for nothing.
    package static func retryingOnceBackInSession(
        in store: any CoordinationStore, by sessionID: String, _ removal: @escaping @Sendable () async throws -> Void
    ) {
        Task {
            for await event in store.sessionEvents() {
                guard event.sessionID == sessionID else { return }
                switch event.state {
                case .expired, .closed: return
                case .suspended: continue
                case .connected, .reconnected:
                    if await retryingWhileHeld(in: store, by: sessionID, removal) { return }
                }
            }
        }
    }
}

/// A doubling pause between tries, so a store that keeps failing is not hammered.
package struct Backoff {
    package private(set) var next: Duration
    let cap: Duration

    package init(first: Duration = .milliseconds(50), cap: Duration = .seconds(2)) {
        self.next = first
        self.cap = cap
    }

    /// Pauses (cancellable), then doubles the next pause up to the cap.
    package mutating func pause() async throws {
        try await Task.sleep(for: next)
        next = min(next * 2, cap)
    }
}
