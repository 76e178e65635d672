import Coordination

/// The session's life as a plain state machine (contract clause 7), kept apart from the C client so
/// it can be tested without a server: the global watcher feeds it what the client reports, and it
/// answers with what the store must publish and do.
struct SessionMachine {
    /// What the C client reported, already decoded from its `*_STATE` constants.
    enum Input: Equatable {
        /// `ZOO_CONNECTED_STATE`, with the session's id and negotiated timeout.
        case connected(sessionID: Int64, timeout: Duration)
        /// `ZOO_CONNECTING_STATE` / `ZOO_ASSOCIATING_STATE`: contact lost, the client retries.
        case connecting
        /// `ZOO_EXPIRED_SESSION_STATE` (or `ZOO_AUTH_FAILED_STATE`, also final for the handle).
        case expired
        /// Not the C client's: the store gives up a session suspended past its TTL while a
        /// server serves others, which refuses this handle (see ``ZooKeeperConnection``'s
        /// refusal watch). Counts as an expiry, only while the session is suspended.
        case abandoned
        /// The store was closed.
        case closed
    }

    enum Action: Equatable {
        /// Publish this event on the session stream.
        case publish(SessionEvent)
        /// Replace the dead C handle by a new one, which will start a new session.
        case startNewSession
    }

    private enum Phase { case opening, live, suspended, expired, closed }

    private var phase = Phase.opening
    private var sessionID: Int64?
    private(set) var ttl: Duration
    private var lastContact: ContinuousClock.Instant

    init(requestedTTL: Duration, now: ContinuousClock.Instant) {
        ttl = requestedTTL
        lastContact = now
    }

    /// The connection confirmed contact with the session at `instant` (a request the leader
    /// answered was sent then): the last contact a `suspended` event will report.
    mutating func confirmContact(at instant: ContinuousClock.Instant) {
        if phase == .live { lastContact = max(lastContact, instant) }
    }

    /// The text form of a session id: ZooKeeper's own hex spelling.
    static func describe(_ id: Int64) -> String { "0x" + String(UInt64(bitPattern: id), radix: 16) }

    mutating func handle(_ input: Input, now: ContinuousClock.Instant) -> [Action] {
        switch (input, phase) {
        case (_, .closed):
            return []
        case (.closed, _):
            phase = .closed
            return [.publish(event(.closed))]
        case (.connected(let id, _), .expired) where id == sessionID:
            // The handle of a session given up (``Input/abandoned``) won it back as it was being
            // replaced: the replacement goes on, and the session is not reported again.
            return []
        case (.connected(let id, let timeout), _):
            ttl = timeout
            lastContact = now
            if phase == .live && id == sessionID { return [] }
            let state: SessionState = (phase == .suspended && id == sessionID) ? .reconnected : .connected
            phase = .live
            sessionID = id
            return [.publish(event(state))]
        case (.connecting, .live):
            // The last confirmed contact, not "two thirds of the timeout ago" (when the client gives
            // up on a silent server): the client may notice late (a process stopped and woken up
            // notices only then), and that guess then trusted the session past its end.
            phase = .suspended
            return [.publish(event(.suspended))]
        case (.connecting, _):
            return []
        case (.abandoned, .suspended):
            phase = .expired
            return [.publish(event(.expired)), .startNewSession]
        case (.abandoned, _):
            return []
        case (.expired, .expired):
            return []
        case (.expired, _):
            phase = .expired
            return [.publish(event(.expired)), .startNewSession]
        }
    }

    private func event(_ state: SessionState) -> SessionEvent {
        SessionEvent(state: state, sessionID: sessionID.map(Self.describe) ?? "", ttl: ttl, lastContact: lastContact)
    }
}
