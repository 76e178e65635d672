public import Coordination
public import Logging

/// The current leader of an election, as everyone sees it.
public struct Leader: Sendable, Hashable {
    /// The leader's entry under the election path.
    public let key: Key
    /// What the leader campaigned with (its identity), as bytes.
    public let identity: [UInt8]
    /// The leadership's fencing token: the entry's `createRevision`.
    public let token: Int64

    public var identityString: String { String(decoding: identity, as: UTF8.self) }
}

/// Leader election under `path`: candidates queue like a ``Lock``; the first in line leads.
///
/// The leader steps down by itself when its session is lost (its work is cancelled), and
/// ``lead(_:)`` campaigns again after a session expiry, so a process that stays up stays a candidate.
public struct LeaderElection: Sendable {
    public let store: any CoordinationStore
    public let path: Key
    /// What this candidate campaigns with: shown to everyone as the leader's identity.
    public let identity: [UInt8]
    let acquirer: QueueAcquirer
    let logger: Logger

    public init(
        store: any CoordinationStore, path: Key, identity: String,
        logger: Logger = Logger(label: "coordination.election")
    ) {
        self.store = store
        self.path = path
        self.identity = Array(identity.utf8)
        self.logger = logger
        self.acquirer = QueueAcquirer(
            queue: SequentialQueue(store: store, path: path), prefix: "candidate", admission: .predecessor, logger: logger)
    }

    /// Waits until this candidate leads; `nil` after `timeout`, giving up as
    /// ``Lock/acquire(timeout:value:tidyingUp:)`` does. Resign with ``LockLease/release()``.
    public func campaign(timeout: Duration? = nil, tidyingUp tidyUp: TidyUpAllowance = TidyUpAllowance()) async throws -> LockLease? {
        try await acquirer.acquire(timeout: timeout, value: identity, tidyingUp: tidyUp)
    }

    /// Campaigns, then runs `body` while leading; `body` is cancelled when leadership is lost
    /// (``RecipeError/sessionLost(_:)``). Resigns when `body` returns. Not leading within
    /// `timeout`: ``RecipeError/notAcquired(_:)``, and `body` did not run.
    @discardableResult
    public func withLeadership<T: Sendable>(
        timeout: Duration? = nil, _ body: @escaping @Sendable (LockLease) async throws -> T
    ) async throws -> T {
        // A marker of its own (nil): no later join carries it, so an entry given up out of contact
        // is removed once contact is back; with a marker passed, it stayed first in line, and
        // nobody led, for as long as the session lived.
        try await withLeadership(timeout: timeout, marker: nil, body)
    }

    /// ``withLeadership(timeout:_:)`` with the marker its queue entry carries (see ``lead(_:)``),
    /// a new one of its own when `nil`; the sessions of creates of its joins that may land after
    /// it are noted in `unresolved`.
    private func withLeadership<T: Sendable>(
        timeout: Duration?, marker: String?, noting unresolved: UnresolvedCreates? = nil,
        _ body: @escaping @Sendable (LockLease) async throws -> T
    ) async throws -> T {
        try await acquirer.withLease(
            timeout: timeout, value: identity, marker: marker, noting: unresolved, what: "leadership of \(path)", body)
    }

    /// Leads whenever elected, until cancelled: runs `body` each time this candidate becomes
    /// leader, and campaigns again when leadership is lost to a session problem or a store
    /// failure that may pass (lost contact, a time-out: a process that stays up stays a
    /// candidate); resigns and returns once `body` returns. Other errors, and a closed handle, are
    /// thrown. Ended out of contact for longer than its session can last, it leaves its entry
    /// once contact is back in that session, if the server kept it.
    public func lead(_ body: @escaping @Sendable (LockLease) async throws -> Void) async throws {
        // One marker for every campaign: a leader cut off for so long that it gave up removing
        // its entry (its session must have ended) may find the session kept after all, and the
        // entry with it, first in line for nobody. Carrying the same marker, that entry is one
        // of this candidate's own strays, which the next campaign removes instead of queueing
        // behind it (which blocked the whole election for as long as the session lived).
        let marker = SequentialQueue.marker()
        // Once `lead` has ended no join carries the marker any more: an entry of it still there
        // (given up out of contact, in a session the server kept) is removed, once contact is
        // back if need be. Left, it stayed first in line for nobody, and the election had no
        // leader for as long as the session lived.
        let queue = SequentialQueue(store: store, path: path)
        // A create of a campaign whose reply was lost, not found by its join, may land even after
        // `lead` has ended, where nobody looks: first in line for nobody, the election had no
        // leader for as long as the session lived. Once no join carries the marker, such entries
        // are removed as they appear (not before: the sweep would take a campaign's own entry).
        let unresolved = UnresolvedCreates()
        let leave: @Sendable () async -> Void = { [store, stem = SequentialQueue.stem(prefix: acquirer.prefix, marker: marker)] in
            for session in unresolved.sessions { queue.removeLateEntries(stem: stem, session: session) }
            await queue.leaveSurely(marker: marker, session: store.session.sessionID, afterReconnecting: true)
        }
        do {
            try await campaignUntilCancelled(marker: marker, noting: unresolved, body)
        } catch {
            await leave()
            throw error
        }
        await leave()
    }

    /// The campaigns of ``lead(_:)``, every one with `marker`.
    private func campaignUntilCancelled(
        marker: String, noting unresolved: UnresolvedCreates, _ body: @escaping @Sendable (LockLease) async throws -> Void
    ) async throws {
        var backoff = Backoff()
        while true {
            try Task.checkCancellation()
            do {
                try await withLeadership(timeout: nil, marker: marker, noting: unresolved, body)
                return
            } catch let error as RecipeError {
                // Closing the handle ends its session, and so the leadership: no campaign follows.
                if store.session.state == .closed { throw CoordinationError.closed() }
                logger.warning("leadership lost; campaigning again", metadata: ["election": "\(path)", "reason": "\(error)"])
                try await waitForUsableSession()
            } catch where StoreFailure.mayPass(error, store: store) {
                logger.warning("campaign or leadership failed; campaigning again", metadata: ["election": "\(path)", "error": "\(error)"])
                try await backoff.pause()
                try await waitForUsableSession()
            }
        }
    }

    /// The leader now, or `nil` when there is no candidate.
    public func currentLeader() async throws -> Leader? {
        let queue = SequentialQueue(store: store, path: path)
        for name in try await queue.entries() {
            if let record = try await store.get(try path.child(name)) {
                return Leader(key: record.key, identity: record.value, token: record.createRevision)
            }
        }
        return nil
    }

    /// The leader as it changes: the current one first, then each change (`nil` while there is none).
    public func leaders() -> AsyncThrowingStream<Leader?, any Error> {
        let store = store
        let path = path
        return AsyncThrowingStream { continuation in
            let task = Task {
                do {
                    var entries: [Key: Record] = [:]
                    var last: Leader?? = .none
                    for try await event in store.watch(path, scope: .subtree) {
                        entries.apply(event)
                        let leader = entries.values
                            .filter { $0.key.parent == path && SequentialQueue.sequence(of: $0.key.name) != nil }
                            .min { SequentialQueue.sequence(of: $0.key.name)! < SequentialQueue.sequence(of: $1.key.name)! }
                            .map { Leader(key: $0.key, identity: $0.value, token: $0.createRevision) }
                        if last != .some(leader) {
                            last = .some(leader)
                            continuation.yield(leader)
                        }
                    }
                    continuation.finish()
                } catch {
                    continuation.finish(throwing: error)
                }
            }
            continuation.onTermination = { _ in task.cancel() }
        }
    }

    private func waitForUsableSession() async throws {
        guard await store.waitForSession(where: { $0.state == .connected || $0.state == .reconnected }) != nil else {
            // The wait also ends empty-handed when this task is cancelled (the session stream ends
            // with it): a `lead` cancelled while its session was away must say it was cancelled,
            // not that the handle was closed.
            try Task.checkCancellation()
            throw CoordinationError.closed()
        }
    }
}
