import Coordination

/// The session's logic as a plain state machine (in the style of postgres-nio's connection state
/// machines): it is fed what happened and returns what to do, so it is tested without a server.
/// ``SessionKeeper`` performs the actions on its own thread.
///
/// The session is an etcd lease: granted, kept alive every `ttl / 3`, `suspended` when keep-alives
/// fail or one's answer is late (``keepAliveOverdueAfter``: the request goes on, and a late
/// answer still renews the lease), `reconnected` when one succeeds again, `expired` when etcd says the lease is gone (a
/// keep-alive answer without `TTL`, or "lease not found"), after which a new lease is granted and
/// reported as `connected` with a new session id.
///
/// The TTL is the one etcd granted, as ZooKeeper's session timeout is the one it negotiated:
/// etcd raises a TTL below its minimum (1.5 election timeouts, 2 s by default), and leases come
/// in whole seconds (1.5 s asks for 2), so the one asked for understated how long the lease
/// outlives its holder, which `etcdctl lease timetolive` shows. It is also never longer than the
/// lease: the safe window (last contact plus TTL) ends no later than etcd's own view of it.
///
/// The last contact is when the request that etcd answered was *sent*: etcd renewed the lease at
/// some instant between that and the answer, so counting the TTL from the answer would trust the
/// session for longer than etcd does, by as long as the answer took (a slow one, seconds).
struct LeaseStateMachine: Sendable {
    enum State: Sendable, Equatable {
        /// Waiting for a lease; `previous` is the lease that expired, if any.
        case granting(previous: Int64?)
        case active(lease: Int64, lastContact: ContinuousClock.Instant, suspended: Bool)
        case closed
    }

    enum Input: Sendable, Equatable {
        /// `sentAt`: when the grant request was sent; `ttl`: what etcd granted, in whole seconds
        /// (`nil` when the reply did not say: the TTL asked for stands).
        case granted(lease: Int64, ttl: Int64? = nil, sentAt: ContinuousClock.Instant)
        case grantFailed
        /// `sentAt`: when the keep-alive request was sent.
        case keepAliveConfirmed(sentAt: ContinuousClock.Instant)
        /// The keep-alive in flight has had no answer for ``keepAliveOverdueAfter``; it goes on.
        case keepAliveOverdue
        case keepAliveFailed
        case leaseGone
        case close
    }

    enum Action: Sendable, Equatable {
        case grant(after: Duration)
        case keepAlive(lease: Int64, after: Duration)
        case report(SessionState, lease: Int64, lastContact: ContinuousClock.Instant)
        /// A confirmed keep-alive that changes no state: the session's last contact moves on.
        case contact(lastContact: ContinuousClock.Instant)
        /// `within`: how long to wait for etcd's answer.
        case revoke(lease: Int64, within: Duration)
        case stop
    }

    /// The longest a close waits for the lease's revoke.
    static let revokeTimeout = Duration.seconds(2)

    /// The TTL the store was opened with.
    let requestedTTL: Duration
    /// The session's TTL: the one asked for until a grant says what etcd gave (see the type's notes).
    private(set) var ttl: Duration
    private(set) var state: State = .granting(previous: nil)

    init(ttl: Duration) {
        requestedTTL = ttl
        self.ttl = ttl
    }

    /// The TTL to ask etcd for: whole seconds, rounded up so the lease is never shorter than asked.
    var requestedSeconds: Int64 {
        max(1, requestedTTL.components.seconds + (requestedTTL.components.attoseconds > 0 ? 1 : 0))
    }

    /// Keep-alives well inside the TTL, so one lost reply does not lose the lease.
    var keepAliveInterval: Duration { ttl / 3 }
    /// While suspended, try again often: every try is a chance to report `reconnected` in time.
    var retryInterval: Duration { min(ttl / 6, .milliseconds(500)) }
    /// How long a keep-alive's answer may take before the session counts as suspended. Against a
    /// single endpoint the request itself waits longer (``patientKeepAliveTimeout(sentAt:)``): cut
    /// off at this, as it used to be, a server answering every keep-alive a little later (under
    /// load) lost the lease though each would have renewed it.
    var keepAliveOverdueAfter: Duration { max(min(ttl / 3, .seconds(2)), .milliseconds(500)) }

    /// How long a keep-alive sent at `sentAt` waits for its answer against a single endpoint:
    /// past ``keepAliveOverdueAfter`` (a late answer still renews the lease), but leaving the
    /// next try, on a new connection, that much before the lease ends since the last contact: a
    /// connection that died without a word (its member stopped behind a load balancer) is never
    /// answered, and waited on for a whole TTL it lost a lease a new connection would have kept.
    func patientKeepAliveTimeout(sentAt: ContinuousClock.Instant) -> Duration {
        guard case .active(_, let lastContact, _) = state else { return keepAliveOverdueAfter }
        return max(keepAliveOverdueAfter, lastContact + ttl - keepAliveOverdueAfter - sentAt)
    }

    /// The lease operations may attach ephemeral keys to, when there is one.
    var lease: Int64? {
        if case .active(let lease, _, _) = state { return lease }
        return nil
    }

    func start() -> [Action] { [.grant(after: .zero)] }

    mutating func handle(_ input: Input, now: ContinuousClock.Instant) -> [Action] {
        switch (state, input) {
        case (.closed, _):
            return []

        case (.active(let lease, let lastContact, let suspended), .close):
            state = .closed
            // Out of contact, the revoke is worth waiting for only while the lease may still live
            // as this client counts it: past that, etcd has ended it by its own count, and a
            // revoke to a server that does not answer would only hold up the close (a lock lost
            // to lost contact kept coord from exiting for the whole 2 s).
            let left = suspended ? lastContact + ttl - now : Self.revokeTimeout
            let revoke: [Action] = left > .zero ? [.revoke(lease: lease, within: min(left, Self.revokeTimeout))] : []
            return revoke + [.report(.closed, lease: lease, lastContact: now), .stop]

        case (_, .close):
            state = .closed
            return [.report(.closed, lease: 0, lastContact: now), .stop]

        case (.granting, .granted(let lease, let granted, let sentAt)):
            // A reply without a TTL (never seen from etcd) leaves the one asked for.
            if let granted, granted > 0 { ttl = .seconds(granted) } else { ttl = requestedTTL }
            state = .active(lease: lease, lastContact: sentAt, suspended: false)
            // From the request, as after a keep-alive: a slow grant leaves the lease less time.
            return [
                .report(.connected, lease: lease, lastContact: sentAt),
                .keepAlive(lease: lease, after: max(.zero, keepAliveInterval - (now - sentAt))),
            ]

        case (.granting, .grantFailed):
            return [.grant(after: retryInterval)]

        case (.active(let lease, let lastContact, let suspended), .keepAliveConfirmed(let sentAt)):
            // Never back in time (answers come in order on the session's one connection; this is
            // a guard, not a case that happens).
            let contact = max(lastContact, sentAt)
            state = .active(lease: lease, lastContact: contact, suspended: false)
            let report: [Action] = [suspended ? .report(.reconnected, lease: lease, lastContact: contact) : .contact(lastContact: contact)]
            // The interval counts from the request, not the answer: slow answers would otherwise
            // space renewals by the interval plus the answer's time.
            return report + [.keepAlive(lease: lease, after: max(.zero, keepAliveInterval - (now - sentAt)))]

        case (.active(let lease, let lastContact, let suspended), .keepAliveOverdue):
            guard !suspended else { return [] }
            state = .active(lease: lease, lastContact: lastContact, suspended: true)
            return [.report(.suspended, lease: lease, lastContact: lastContact)]

        case (.active(let lease, let lastContact, let suspended), .keepAliveFailed):
            state = .active(lease: lease, lastContact: lastContact, suspended: true)
            let report: [Action] = suspended ? [] : [.report(.suspended, lease: lease, lastContact: lastContact)]
            return report + [.keepAlive(lease: lease, after: retryInterval)]

        case (.active(let lease, let lastContact, _), .leaseGone):
            state = .granting(previous: lease)
            return [.report(.expired, lease: lease, lastContact: lastContact), .grant(after: .zero)]

        default:
            // An answer that belongs to an earlier state (a late keep-alive after expiry): ignore it.
            return []
        }
    }
}
