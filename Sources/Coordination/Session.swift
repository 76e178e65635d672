/// The state of a store handle's session (contract clause 7).
public enum SessionState: String, Sendable, Hashable, CaseIterable, Codable {
    /// The first contact of a session was made.
    case connected
    /// Contact was lost. Ephemeral keys may still exist; the session may come back.
    /// A holder of anything must treat "suspended for longer than the TTL since the last
    /// confirmed contact" as lost (see ``SessionEvent/safeUntil``).
    case suspended
    /// Contact came back within the session's lifetime; ephemeral keys are intact.
    case reconnected
    /// The session ended; its ephemeral keys are gone. The handle starts a new session by itself
    /// and reports `connected` again when it has one. (A handle also gives up a session that a
    /// serving server refuses past its TTL: that server ends it, or never knew it.)
    case expired
    /// The handle was closed; no further events follow.
    case closed
}

/// One change of session state, as delivered by ``CoordinationStore/sessionEvents()``.
public struct SessionEvent: Sendable, Hashable {
    public var state: SessionState
    /// An opaque identifier of the session; it changes when a new session starts after an expiry.
    public var sessionID: String
    /// The session's time to live, as the server granted it: it may differ from the one asked
    /// for (ZooKeeper negotiates it within its bounds, etcd raises it to its minimum lease TTL),
    /// and the server's is the one that decides when the session ends.
    public var ttl: Duration
    /// On a monotonic clock: the last instant at which the store confirmed the session was alive.
    /// A backend takes it no later than the server can have renewed the session (where it knows,
    /// when the request the server answered was sent, not when the answer came), so that
    /// ``safeUntil`` never ends after the server's own view of the session does.
    ///
    /// It keeps moving while the session is `connected` or `reconnected`, in ``CoordinationStore/session``
    /// (a stream only carries changes of state): a healthy handle's last contact is never more than a
    /// third of the TTL old, plus a round trip, and a `suspended` event carries the last one
    /// confirmed. So `lastContact + ttl` bounds the session's life even before the handle notices
    /// a loss of contact, which takes a backend a while. (On a ZooKeeper ensemble only requests the
    /// leader answered count; the leader hears of them through its member within half a tick.)
    public var lastContact: ContinuousClock.Instant

    public init(state: SessionState, sessionID: String, ttl: Duration, lastContact: ContinuousClock.Instant) {
        self.state = state
        self.sessionID = sessionID
        self.ttl = ttl
        self.lastContact = lastContact
    }

    /// Until when what the session holds can be trusted: while `connected` or `reconnected`,
    /// forever (`nil`); once `suspended`, until `lastContact + ttl`; never after `expired` or `closed`.
    public var safeUntil: ContinuousClock.Instant? {
        switch state {
        case .connected, .reconnected: nil
        case .suspended: lastContact.advanced(by: ttl)
        case .expired, .closed: lastContact
        }
    }

    /// `true` while what the session holds can still be trusted at `now`.
    public func isSafe(at now: ContinuousClock.Instant = .now) -> Bool {
        guard let safeUntil else { return true }
        return state == .suspended && now < safeUntil
    }
}
