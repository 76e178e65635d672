import Coordination
import Foundation
import Logging
import Synchronization

/// Runs the ``LeaseStateMachine`` on a thread of its own with a curl connection of its own, so
/// that keep-alives are never queued behind bulk requests.
final class SessionKeeper: @unchecked Sendable {
    let events: Broadcast<SessionEvent>
    private let gateway: Gateway
    // `condition` guards `closing`, `nudged`, `refusal` and `machine`.
    private let condition = NSCondition()
    private var closing = false
    private var nudged = false
    private var refusal: CoordinationError?
    private var machine: LeaseStateMachine
    private let finished = Mutex<[CheckedContinuation<Void, Never>]?>([])
    /// Called on the keeper's thread when contact comes back after it was lost.
    private let onContactRegained: @Sendable () -> Void
    /// Set once the keeper has said that a setting keeps its session from being kept.
    private let warnedOfSetting = Atomic<Bool>(false)

    /// Grants the first lease and starts keeping it alive.
    ///
    /// The thread that grants the lease goes on to keep it alive, on the same connection: the
    /// first keep-alive must not wait for the caller's task to resume. It did (the keeper's thread
    /// was started from that task), and with the cooperative pool busy for most of a TTL (the
    /// start of a full test run on two cores) the first keep-alive found the lease gone: `expired`
    /// with nothing lost but time.
    /// - Parameter onContactRegained: called (on the keeper's thread; it must not block) each time
    ///   the session reports `reconnected`, or `connected` with a new lease after an expiry.
    /// - Throws: what the first grant failed with (etcd unreachable, bad credentials…).
    static func start(
        gateway: Gateway, ttl: Duration, onContactRegained: @escaping @Sendable () -> Void = {}
    ) async throws(CoordinationError) -> SessionKeeper {
        let started: Result<SessionKeeper, CoordinationError> = await withCheckedContinuation { continuation in
            let thread = Thread {
                let connection = CurlConnection(tls: gateway.tls)
                let keeper: SessionKeeper
                do throws(CoordinationError) {
                    if gateway.usesAuth { try gateway.authenticate(on: connection) }
                    let machine = LeaseStateMachine(ttl: ttl)
                    let sentAt = ContinuousClock.now
                    let grant = try SessionKeeper.grant(seconds: machine.requestedSeconds, gateway: gateway, on: connection)
                    keeper = SessionKeeper(
                        gateway: gateway, machine: machine, first: grant, sentAt: sentAt, onContactRegained: onContactRegained)
                } catch {
                    continuation.resume(returning: .failure(error))
                    return
                }
                continuation.resume(returning: .success(keeper))
                keeper.run(on: connection)
                let waiters = keeper.finished.withLock { waiters in
                    defer { waiters = nil }
                    return waiters ?? []
                }
                for waiter in waiters { waiter.resume() }
            }
            thread.name = "etcd-session"
            thread.start()
        }
        do {
            return try started.get()
        } catch where error.code == .connectionLoss {
            // No session existed before: a lost grant is simply no contact.
            throw CoordinationError(.unavailable, "cannot open a session on etcd: \(error.message)", backendDetail: error.backendDetail)
        } catch where error.isEtcdDatabaseFull {
            // Said, since the caller may only have wanted to read: reads would pass, the lease not.
            throw CoordinationError(
                error.code, "cannot open a session on etcd, which every store handle holds (to read too): \(error.message)",
                backendDetail: error.backendDetail)
        }
    }

    private init(
        gateway: Gateway, machine: LeaseStateMachine, first: Grant, sentAt: ContinuousClock.Instant,
        onContactRegained: @escaping @Sendable () -> Void
    ) {
        self.gateway = gateway
        self.onContactRegained = onContactRegained
        var machine = machine
        pendingActions = machine.handle(.granted(lease: first.lease, ttl: first.ttl, sentAt: sentAt), now: .now)
        self.machine = machine
        events = Broadcast(SessionEvent(state: .connected, sessionID: Self.sessionID(first.lease), ttl: machine.ttl, lastContact: sentAt))
        pendingActions.removeAll { if case .report = $0 { true } else { false } }
    }

    private var pendingActions: [LeaseStateMachine.Action]

    /// The current lease, or `nil` between an expiry and the next grant.
    var lease: Int64? {
        condition.lock()
        defer { condition.unlock() }
        return machine.lease
    }

    /// Why no new lease can be had, while etcd refuses the credentials the grant needs (a
    /// password changed, a user removed: `unauthenticated` or `permissionDenied`) or refuses
    /// every grant while its database is full (`unavailable`, see
    /// ``CoordinationError/isEtcdDatabaseFull``), when the latest grant was refused so. `nil` once
    /// a lease is granted again, once a grant fails for another reason (etcd out of reach:
    /// whether it still refuses is not known), and while no grant was refused.
    var grantRefusal: CoordinationError? {
        condition.lock()
        defer { condition.unlock() }
        return refusal
    }

    private func setGrantRefusal(_ error: CoordinationError?) {
        condition.lock()
        let first = refusal == nil && error != nil
        refusal = error
        condition.unlock()
        if first, let error {
            // Said once per streak, where an operator looks: retrying goes on quietly, and each
            // ephemeral write says the same (``EtcdStore/currentLease()``).
            gateway.logger.error(
                "etcd refuses \(Self.refused(error)); the handle keeps trying, and ephemeral writes fail until it succeeds",
                metadata: ["error": "\(error)"])
        }
    }

    /// What a grant's refusal refused: the login a new session needs, or (its database full) the session itself.
    static func refused(_ refusal: CoordinationError) -> String {
        refusal.isEtcdDatabaseFull ? "a new session" : "the login a new session needs"
    }

    /// Asks for a keep-alive now (an operation just saw "lease not found").
    func nudge() {
        condition.lock()
        nudged = true
        condition.signal()
        condition.unlock()
    }

    /// Revokes the lease (deleting the session's ephemeral keys), reports `closed`, stops the thread.
    func close() async {
        markClosing()
        await withCheckedContinuation { (continuation: CheckedContinuation<Void, Never>) in
            let alreadyDone = finished.withLock { waiters -> Bool in
                guard waiters != nil else { return true }
                waiters!.append(continuation)
                return false
            }
            if alreadyDone { continuation.resume() }
        }
    }

    /// Whether ``close()`` was called: a request in flight on the session's connection stops then.
    private var isClosing: Bool {
        condition.lock()
        defer { condition.unlock() }
        return closing
    }

    private func markClosing() {
        condition.lock()
        closing = true
        condition.signal()
        condition.unlock()
    }

    static func sessionID(_ lease: Int64) -> String { String(UInt64(bitPattern: lease), radix: 16) }
    /// ``Record/ownerSession`` of a key with `lease` (0: no lease, a persistent key).
    static func owner(ofLease lease: Int64) -> String? { lease != 0 ? sessionID(lease) : nil }

    private func run(on connection: CurlConnection) {
        var actions = pendingActions
        while !actions.isEmpty {
            var next: [LeaseStateMachine.Action] = []
            for action in actions {
                let input: LeaseStateMachine.Input?
                switch action {
                case .report(let state, let lease, let lastContact):
                    report(state, lease: lease, lastContact: lastContact)
                    input = nil
                case .contact(let lastContact):
                    events.noteContact(at: lastContact)
                    input = nil
                case .stop:
                    return
                case .revoke(let lease, let within):
                    // Within `within` in all: members that drop packets would otherwise hold the
                    // close up for `within` each.
                    _ = try? gateway.call(
                        "/v3/lease/revoke", ["ID": .int64(lease)], on: connection, kind: .write, timeout: within, boundsWholeCall: true)
                    input = nil
                case .grant(let delay):
                    if waitOrClose(delay) {
                        input = .close
                    } else {
                        do {
                            let sentAt = ContinuousClock.now
                            let grant = try Self.grant(seconds: machine.requestedSeconds, gateway: gateway, on: connection) { [self] in
                                !isClosing
                            }
                            input = .granted(lease: grant.lease, ttl: grant.ttl, sentAt: sentAt)
                            setGrantRefusal(nil)
                        } catch {
                            gateway.logger.debug("etcd lease grant failed", metadata: ["error": "\(error)"])
                            if error.code == .invalidConfiguration { warnOnce(error) }
                            // The latest try says why no lease can be had: a refusal kept past a try
                            // that failed otherwise (etcd out of reach) blamed a login that may have
                            // been set right meanwhile, and ephemeral writes failed at once for it.
                            // A member of another cluster (``ClusterIdentity``) is a refusal too.
                            let refused =
                                [.unauthenticated, .permissionDenied, .invalidConfiguration].contains(error.code) || error.isEtcdDatabaseFull
                            setGrantRefusal(refused ? error : nil)
                            input = .grantFailed
                        }
                    }
                case .keepAlive(let lease, let delay):
                    input = waitOrClose(delay) ? .close : keepAlive(lease, on: connection)
                }
                if let input {
                    condition.lock()
                    next += machine.handle(input, now: .now)
                    condition.unlock()
                }
            }
            actions = next
        }
    }

    private func report(_ state: SessionState, lease: Int64, lastContact: ContinuousClock.Instant) {
        gateway.logger.debug("etcd session \(state.rawValue)", metadata: ["lease": "\(Self.sessionID(lease))"])
        // The machine is changed on this thread only (under the lock, for readers elsewhere).
        let event = SessionEvent(state: state, sessionID: Self.sessionID(lease), ttl: machine.ttl, lastContact: lastContact)
        // The first `connected` is not reported here (``init``): every one that is follows lost contact.
        if state == .reconnected || state == .connected { onContactRegained() }
        if state == .closed { events.finish(with: event) } else { events.send(event) }
    }

    /// Says why the session is failing, once, at warning level: keep-alives refused for a
    /// setting (a member of another cluster, ``ClusterIdentity``) showed only as a session
    /// suspended, then lost, with the reason at debug level.
    private func warnOnce(_ error: CoordinationError) {
        guard !warnedOfSetting.exchange(true, ordering: .relaxed) else { return }
        gateway.logger.warning("the etcd session cannot be kept: \(error.message)")
    }

    /// Waits `delay` (cut short by a nudge); returns `true` when the handle is closing.
    private func waitOrClose(_ delay: Duration) -> Bool {
        let deadline = ContinuousClock.now + delay
        condition.lock()
        defer { condition.unlock() }
        while !closing && !nudged {
            if !condition.wait(until: deadline) { break }
        }
        nudged = false
        return closing
    }

    /// One keep-alive. Against a single endpoint it waits for its answer past the overdue bound
    /// (``LeaseStateMachine/patientKeepAliveTimeout(sentAt:)``): a late one reports `suspended`
    /// meanwhile (``LeaseStateMachine/keepAliveOverdueAfter``), and still renews the lease when
    /// it comes. Against several, it gives up on each when overdue, so that
    /// the next try goes to another member in time (a stopped member would hold it for the whole
    /// lease); `suspended` is reported then too, not once every member has failed in turn, which
    /// with three came after the lease could have ended. Closing the handle aborts it.
    private func keepAlive(_ lease: Int64, on connection: CurlConnection) -> LeaseStateMachine.Input {
        let sentAt = ContinuousClock.now
        let overdueAfter = machine.keepAliveOverdueAfter
        let patient = gateway.endpoints.count == 1
        condition.lock()
        let patience = machine.patientKeepAliveTimeout(sentAt: sentAt)
        condition.unlock()
        var overdue = false
        let progress = { [self] () -> Bool in
            let late = !overdue && ContinuousClock.now - sentAt >= overdueAfter
            if late { overdue = true }
            condition.lock()
            let stop = closing
            let actions = late && !stop ? machine.handle(.keepAliveOverdue, now: .now) : []
            condition.unlock()
            for case .report(let state, let lease, let lastContact) in actions { report(state, lease: lease, lastContact: lastContact) }
            return !stop
        }
        do {
            let reply = try gateway.call(
                "/v3/lease/keepalive", ["ID": .int64(lease)], on: connection, kind: .read, timeout: patient ? patience : overdueAfter,
                progress: progress)
            return Self.keepAliveInput(reply, sentAt: sentAt)
        } catch {
            if error.code == .invalidConfiguration { warnOnce(error) }
            return error.code == .sessionExpired ? .leaseGone : .keepAliveFailed
        }
    }

    /// What a keep-alive's reply tells the lease machine. A revoked or expired lease still answers
    /// 200, only without a TTL. A TTL of another type is a reply not understood, as an unparsable
    /// one is (a failed keep-alive, tried again), never a lease gone: that would report an expiry
    /// and drop every ephemeral key's claim while the lease lives.
    static func keepAliveInput(_ reply: JSONValue, sentAt: ContinuousClock.Instant) -> LeaseStateMachine.Input {
        guard let result = reply["result"], let ttl = result.int64(omittedAsZero: "TTL") else { return .keepAliveFailed }
        return ttl > 0 ? .keepAliveConfirmed(sentAt: sentAt) : .leaseGone
    }

    /// A granted lease and the TTL etcd gave it, in seconds (`nil` when the reply omits it).
    private struct Grant: Sendable {
        var lease: Int64
        var ttl: Int64?
    }

    /// - Parameter progress: asked while the grant waits (see ``Gateway/call(_:_:on:kind:timeout:boundsWholeCall:progress:)``);
    ///   returning `false` abandons it, so that closing the handle is not held up by a server that
    ///   accepts the request and never answers, for as long as the request time-out.
    private static func grant(
        seconds: Int64, gateway: Gateway, on connection: CurlConnection, progress: (() -> Bool)? = nil
    ) throws(CoordinationError) -> Grant {
        // The field must be upper-case `TTL`: the gateway silently ignores `ttl`.
        let reply = try gateway.call("/v3/lease/grant", ["TTL": .int64(seconds)], on: connection, kind: .repeatableWrite, progress: progress)
        guard let lease = reply["ID"]?.int64Value, lease != 0 else {
            throw .gateway(.malformed("lease grant reply without an ID"), kind: .repeatableWrite)
        }
        // etcd raises a TTL below its minimum lease TTL, and says so here (a string, as every int64).
        return Grant(lease: lease, ttl: try grantedTTL(reply))
    }

    /// The TTL a grant's reply gives, in seconds: `nil` when omitted (or null), a malformed reply
    /// when of another type rather than "not said", which would keep the TTL asked for.
    static func grantedTTL(_ reply: JSONValue) throws(CoordinationError) -> Int64? {
        switch reply["TTL"] {
        case nil, .null?: return nil
        case let value?:
            guard let ttl = value.int64Value else { throw .gateway(.malformed("a lease grant reply whose TTL is not an int64"), kind: .repeatableWrite) }
            return ttl
        }
    }
}
