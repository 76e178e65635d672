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
    package static func retryingWhileHeld(
        in store: any CoordinationStore, by sessionID: String, _ removal: @escaping @Sendable () async throws -> Void
    ) async {
        await Task {
            var backoff = Backoff(first: .milliseconds(20), cap: .seconds(1))
            while true {
                do {
                    try await removal()
                    return
                } catch {
                    guard mayPass(error, store: store), SequentialQueue.mayStillHold(store.session, sessionID) else { return }
                    try? await backoff.pause()
                }
            }
        }.value
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
