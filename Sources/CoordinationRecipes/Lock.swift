public import Coordination
public import Logging

/// A fair, distributed mutual-exclusion lock under `path`, the same on every backend.
///
/// Contenders queue as ephemeral-sequential children of `path`; the lowest holds the lock; every
/// other contender watches only the one just ahead of it, so a release wakes exactly one waiter
/// (no herd). Queue entries are created in protected mode (see ``SequentialQueue/join(prefix:value:marker:)``).
/// The fencing token is the entry's `createRevision`: strictly larger for every later holder.
public struct Lock: Sendable {
    public let store: any CoordinationStore
    public let path: Key
    let acquirer: QueueAcquirer

    public init(store: any CoordinationStore, path: Key, logger: Logger = Logger(label: "coordination.lock")) {
        self.store = store
        self.path = path
        self.acquirer = QueueAcquirer(
            queue: SequentialQueue(store: store, path: path), prefix: "lock", admission: .predecessor, logger: logger)
    }

    /// Waits for the lock. With a `timeout`, gives up once it has waited that long for the
    /// holders ahead and returns `nil`, leaving no entry behind: giving up waits for its entry's
    /// removal while the store answers. With the server silent, it returns once `tidyUp` has gone
    /// unanswered for its limit (a second by default; at once if already found silent), notes
    /// the store silent there, and its entry is removed once contact is back, or ends with the
    /// session. The store's own round trips do not count, so a free lock is taken even with a
    /// zero timeout. Without one, waits until acquired or cancelled.
    /// - Parameter tidyUp: the allowance the tidy-up after giving up waits within, shared with the
    ///   caller's own tidy-up after it (the lock's key, the handle's close): after a store found
    ///   silent, those need not wait either.
    public func acquire(
        timeout: Duration? = nil, value: [UInt8] = [], tidyingUp tidyUp: TidyUpAllowance = TidyUpAllowance()
    ) async throws -> LockLease? {
        try await acquirer.acquire(timeout: timeout, value: value, tidyingUp: tidyUp)
    }

    /// Acquires the lock, runs `body` while it is held, then releases it. `body` is cancelled (and
    /// this throws ``RecipeError/sessionLost(_:)``) when the session is suspended beyond its safe
    /// window or expires, because another contender may then hold the lock. With a `timeout`,
    /// throws ``RecipeError/notAcquired(_:)`` when the lock stayed busy that long; `body` did not run.
    @discardableResult
    public func withLock<T: Sendable>(
        timeout: Duration? = nil, _ body: @escaping @Sendable (LockLease) async throws -> T
    ) async throws -> T {
        try await acquirer.withLease(timeout: timeout, what: "lock \(path)", body)
    }
}

/// The queue algorithm shared by every lock-like recipe: join with an entry, then wait until the
/// admission rule lets us in.
struct QueueAcquirer: Sendable {
    enum Admission: Sendable {
        /// Given the queue (first in line first) and our position, the one entry we must wait for,
        /// or `nil` when we are in. Only that entry is watched: no herd.
        case blocker(@Sendable ([String], Int) -> String?)
        /// In when fewer than N contenders are ahead, the entries of one join (one stem, see
        /// ``SequentialQueue/stem(of:)``) counted once; any entry leaving ahead may let us in, so
        /// every entry ahead is watched (arrivals behind are not: they cannot let us in).
        case firstOf(Int)

        /// The entry just ahead: plain mutual exclusion.
        static let predecessor = Admission.blocker { entries, position in position == 0 ? nil : entries[position - 1] }
    }

    let queue: SequentialQueue
    let prefix: String
    let admission: Admission
    let logger: Logger

    var store: any CoordinationStore { queue.store }

    /// Joins the queue and waits to be admitted; with a `timeout`, gives up (leaving no entry)
    /// once it has waited that long for others, `nil`. The timeout bounds the waiting, not the
    /// store's own round trips: a free lock is taken whatever the timeout, even zero.
    /// - Parameter marker: the marker every join of this acquisition carries (see
    ///   ``join(value:marker:)``), a new one when `nil`; a caller whose acquisitions follow one
    ///   another may pass one of its own, so that an entry an earlier one left is removed as a
    ///   stray. Such a caller's entries given up out of contact are not removed once contact is
    ///   back (see ``SequentialQueue/leaveSurely(_:session:afterReconnecting:)``): its next
    ///   join, looking for an entry of its marker after a lost reply, could take one for its
    ///   own, and the removal would then take an entry that holds the lock.
    /// - Parameter unresolved: where to note the sessions of creates of its joins that may land
    ///   after it (see ``SequentialQueue/joinTellingUnresolved(prefix:value:marker:afterReconnecting:noting:afterEarlierJoins:)``):
    ///   with a marker of the caller's, only the caller knows when they may be removed as they appear.
    /// - Parameter tidyUp: how long giving up waits for the entry's removal on a store that does
    ///   not answer (see ``leave(_:session:afterReconnecting:tidyUp:)``), shared with the
    ///   caller's own tidy-up after it; told when the store was found silent.
    func acquire(
        timeout: Duration?, value: [UInt8], marker: String? = nil, noting unresolved: UnresolvedCreates? = nil,
        tidyingUp tidyUp: TidyUpAllowance = TidyUpAllowance()
    ) async throws -> LockLease? {
        try await acquire(waitingAtMost: timeout, value: value, marker: marker, noting: unresolved, tidyingUp: tidyUp)
    }

    func withLease<T: Sendable>(
        timeout: Duration?, value: [UInt8] = [], marker: String? = nil, noting unresolved: UnresolvedCreates? = nil, what: String,
        _ body: @escaping @Sendable (LockLease) async throws -> T
    ) async throws -> T {
        guard let lease = try await acquire(timeout: timeout, value: value, marker: marker, noting: unresolved) else {
            throw RecipeError.notAcquired("\(what) was not acquired within \(DurationText.format(timeout ?? .zero))")
        }
        // Released whatever happens, through store errors too: a lease left behind would block
        // every other contender for as long as this process lives. The release retries what may
        // pass itself (``LockLease/release()``); a failure that will not pass changes nothing
        // tried again, and the body's own outcome is what the caller hears of.
        do {
            let result = try await SessionGuard.run(store: store, sessionID: lease.sessionID) { try await body(lease) }
            try? await lease.release()
            return result
        } catch {
            try? await lease.release()
            throw error
        }
    }

    /// Runs `wait` until it returns (`true`) or `deadline` passes (`false`, `wait` cancelled).
    private static func wait(until deadline: ContinuousClock.Instant?, _ wait: @escaping @Sendable () async throws -> Void) async throws -> Bool {
        guard let deadline else {
            try await wait()
            return true
        }
        if deadline <= .now { return false }
        return try await withThrowingTaskGroup(of: Bool.self) { group in
            group.addTask {
                try await wait()
                return true
            }
            group.addTask {
                try await Task.sleep(until: deadline, clock: .continuous)
                return false
            }
            defer { group.cancelAll() }
            return try await group.next() ?? false
        }
    }

    func acquireWithoutTimeout(value: [UInt8]) async throws -> LockLease {
        // No deadline: only a lease, or an error, ends the wait.
        guard let lease = try await acquire(waitingAtMost: nil, value: value, marker: nil, noting: nil, tidyingUp: TidyUpAllowance()) else {
            throw CancellationError()
        }
        return lease
    }

    /// Joins the queue; returns the entry and the session it was created in. When the session
    /// changed under the create, which session the entry belongs to cannot be told (on etcd the
    /// create is often what finds a revoked lease gone and gets a new one): the entry is removed
    /// and the join made again, until one begins and ends in the same session. Naming the older
    /// session had the guard cancel a rightful holder at once with `sessionLost` ("session … was
    /// replaced by …"); naming the newer one from a read that a lagging ZooKeeper server may
    /// answer could name a session the entry never belonged to.
    ///
    /// Every join of one acquisition carries the same marker, so an entry of a discarded join
    /// whose create lands late (its reply lost) is one of the acquisition's own strays, removed
    /// as they are, rather than an orphan ahead of everyone. A join that fails with its outcome
    /// unknown ends the acquisition: when the marker is the acquisition's own
    /// (`afterReconnecting`), what it may have made is removed after reconnecting too, and what
    /// lands later as it appears.
    ///
    /// - Parameter earlierJoins: whether this acquisition joined before: an entry of its marker
    ///   that a join's search finds may then be one an earlier join left (see
    ///   ``SequentialQueue/joinTellingUnresolved(prefix:value:marker:afterReconnecting:noting:afterEarlierJoins:)``).
    /// - Returns: also whether a create of the join, or of a join it discarded, may still land (see
    ///   ``SequentialQueue/joinTellingUnresolved(prefix:value:marker:afterReconnecting:noting:afterEarlierJoins:)``).
    private func join(
        value: [UInt8], marker: String, afterReconnecting: Bool, noting noted: UnresolvedCreates?, afterEarlierJoins earlierJoins: Bool
    ) async throws -> (Record, String, Bool) {
        var earlierJoins = earlierJoins
        // Whether a create of any join made here may still land, the discarded ones' included:
        // one lost in the session the last join is made in lands, behind its entry, as one of
        // this acquisition's strays, which only the release's sweep sees once it has ended.
        var mayLand = false
        while true {
            try Task.checkCancellation()
            let before = store.session.sessionID
            let (entry, unresolved) = try await queue.joinTellingUnresolved(
                prefix: prefix, value: value, marker: marker, afterReconnecting: afterReconnecting, noting: noted,
                afterEarlierJoins: earlierJoins)
            mayLand = mayLand || unresolved
            let after = store.session.sessionID
            if after == before { return (entry, before, mayLand) }
            // The removal below may give up out of contact, the entry kept with the session: the
            // next join's search could find it.
            earlierJoins = true
            logger.debug("session changed while queueing; queueing again", metadata: ["queue": "\(queue.path)"])
            // Gone already if it was the old session's; otherwise it is the new one's to remove.
            // Not after reconnecting: the next join, carrying the same marker, could take it for
            // its own; left, it is one of this acquisition's strays.
            await queue.leaveSurely(entry.key, session: after, afterReconnecting: false)
        }
    }

    /// - Parameter timeout: how long to wait for the holders ahead, counted from the first wait
    ///   (the join and the first look at the queue are not waiting).
    private func acquire(
        waitingAtMost timeout: Duration?, value: [UInt8], marker: String?, noting noted: UnresolvedCreates?,
        tidyingUp tidyUp: TidyUpAllowance
    ) async throws -> LockLease? {
        // Only a marker of this acquisition's own lets a removal land after it has ended.
        let afterReconnecting = marker == nil
        let marker = marker ?? SequentialQueue.marker()
        var deadline: ContinuousClock.Instant?
        var (entry, sessionID, unresolved) = try await join(
            value: value, marker: marker, afterReconnecting: afterReconnecting, noting: noted, afterEarlierJoins: false)
        // Whether a create of this acquisition's joins may land once it has ended: then removed
        // as it appears, with this acquisition's own marker only (a later join may carry the caller's).
        var lateEntriesMayLand: Bool { unresolved && afterReconnecting }
        do {
            while true {
                try Task.checkCancellation()
                let entries = try await queue.entries()
                // Cancelled while the listing was under way: a free lock was handed to a caller
                // that had given up (and `withLock` ran its body), the entry left to it.
                try Task.checkCancellation()
                guard let position = entries.firstIndex(of: entry.key.name) else {
                    // Our entry vanished (its session expired while we waited): queue again.
                    logger.debug("queue entry vanished; queueing again", metadata: ["queue": "\(queue.path)"])
                    let joined = try await join(
                        value: value, marker: marker, afterReconnecting: afterReconnecting, noting: noted, afterEarlierJoins: true)
                    (entry, sessionID) = (joined.0, joined.1)
                    unresolved = unresolved || joined.2
                    continue
                }
                // Entries of this join other than ours: a create whose outcome was unknown and
                // that the join's search did not find yet landed after all. Left there, the one
                // ahead of us would have us wait for ourselves until the session ends.
                let stem = SequentialQueue.stem(of: entry.key.name)
                let strays = entries.filter { $0 != entry.key.name && SequentialQueue.stem(of: $0) == stem }
                if !strays.isEmpty {
                    for name in strays { try await queue.leave(try queue.path.child(name)) }
                    continue
                }
                let lease = LockLease(
                    store: store, key: entry.key, token: entry.createRevision, sessionID: sessionID,
                    lateEntriesMayLand: lateEntriesMayLand, removedAfterReconnecting: afterReconnecting)
                let waited: Bool
                if let timeout, deadline == nil { deadline = .now + timeout }
                switch admission {
                case .blocker(let rule):
                    guard let blocking = rule(entries, position) else { return lease }
                    let ahead = try queue.path.child(blocking)
                    waited = try await Self.wait(until: deadline) { try await queue.waitForDeletion(of: ahead) }
                case .firstOf(let permits):
                    // A holder's join can have a second entry: a create whose reply was lost,
                    // landing after the holder was let in, where it no longer looks (its release
                    // removes it). Counted as a holder, it kept a free permit from everyone
                    // behind it for as long as the holder held. A contender uses one entry at a
                    // time, and each join has a marker of its own, so one stem is one contender.
                    let contendersAhead = Set(entries[..<position].map(SequentialQueue.stem(of:))).count
                    if contendersAhead < permits { return lease }
                    // Only an entry ahead leaving can let us in: waking on every change (each
                    // contender joining behind) had every waiter list the queue again per arrival.
                    let ahead = entries[..<position]
                    waited = try await Self.wait(until: deadline) { try await queue.waitForDeletion(ofAnyOf: ahead) }
                }
                if !waited {
                    await leave(entry.key, session: sessionID, afterReconnecting: afterReconnecting, tidyUp: tidyUp)
                    if lateEntriesMayLand { queue.removeLateEntries(of: entry.key, session: sessionID) }
                    return nil
                }
            }
        } catch {
            // Cancelled or failed while waiting: leave no entry behind to block the others.
            await leave(entry.key, session: sessionID, afterReconnecting: afterReconnecting, tidyUp: tidyUp)
            if lateEntriesMayLand { queue.removeLateEntries(of: entry.key, session: sessionID) }
            throw error
        }
    }

    /// Removes the entry of an acquisition that gives up, through store errors, retried while
    /// the session may live and once contact is back in it
    /// (``StoreFailure/retryingUntilSessionEnds(in:by:_:)``), and waits for that while the store
    /// answers, as `tidyUp` allows (``TidyUpAllowance``): each attempt's end (failed deletes are
    /// retried) is an answer, and the handle must be in contact. A server gone silent had it wait
    /// for as long as the session could live, two TTLs from the last contact: `acquire(timeout:)`
    /// returned that long after its timeout, and `coord lock --timeout 3s` exited after 11 s. The
    /// removal then goes on in its own task; an ephemeral entry ends with its session anyway. Not
    /// with a marker of the caller's (`afterReconnecting` false): its next join could take the
    /// entry for its own, so the removal must be over before it returns.
    private func leave(_ key: Key, session sessionID: String, afterReconnecting: Bool, tidyUp: TidyUpAllowance) async {
        let queue = queue
        // The join's late-landing entries with it: behind ours, one blocked everyone queued after it.
        guard afterReconnecting else {
            await StoreFailure.retryingWhileHeld(in: store, by: sessionID) { try await queue.leaveWithLateEntries(key) }
            return
        }
        let store = store
        // Not the caller's task: a cancelled caller (cancelling is one way to give up) still
        // waits for it, and the removal outlives the wait.
        _ = await tidyUp.wait(
            for: {
                await StoreFailure.retryingUntilSessionEnds(in: store, by: sessionID) {
                    try await tidyUp.hearing { try await queue.leaveWithLateEntries(key) }
                }
            },
            inContact: { [.connected, .reconnected].contains(store.session.state) })
    }
}

/// A held lock (or lock-like claim): its key, its fencing token, and guarded writes.
public struct LockLease: Sendable, Hashable {
    let store: any CoordinationStore
    /// The queue entry that holds the lock.
    public let key: Key
    /// The fencing token: the entry's `createRevision`, strictly larger for every later holder.
    public let token: Int64
    /// The session the lock belongs to.
    public let sessionID: String
    /// Whether a create of the join that made the entry may land after the release (its reply
    /// lost, and not the entry): the release then keeps removing such entries as they appear.
    let lateEntriesMayLand: Bool
    /// Whether the release goes on once contact is back in the session, when it was out of
    /// contact for longer than the session can last: only when no later join carries the
    /// entry's marker (see ``SequentialQueue/leaveSurely(_:session:afterReconnecting:)``).
    let removedAfterReconnecting: Bool

    init(
        store: any CoordinationStore, key: Key, token: Int64, sessionID: String, lateEntriesMayLand: Bool = false,
        removedAfterReconnecting: Bool = true
    ) {
        self.store = store
        self.key = key
        self.token = token
        self.sessionID = sessionID
        self.lateEntriesMayLand = lateEntriesMayLand
        self.removedAfterReconnecting = removedAfterReconnecting
    }

    /// Applies `operations` only if this lease still holds the lock, in one transaction.
    /// - Throws: ``RecipeError/notHeld(_:)`` when the lock is no longer held (nothing applied).
    @discardableResult
    public func guardedTransaction(_ operations: [Operation]) async throws -> [OperationResult] {
        do {
            let results = try await store.transaction([.check(key, version: nil)] + operations)
            return Array(results.dropFirst())
        } catch let error as CoordinationError where error.failedOperation == 0 && error.code == .noNode {
            throw RecipeError.notHeld(key)
        } catch let error as CoordinationError {
            // Numbered as the caller's operations, without the check before them.
            guard let index = error.failedOperation else { throw error }
            // Index 0 with another code than noNode is a failure every operation shares (a
            // ZooKeeper time-out is copied into each result): the caller's first will do.
            throw error.rebased(to: max(0, index - 1), of: operations.count)
        }
    }

    /// `true` while the lock entry still exists (a read: it can change right after).
    public func isHeld() async throws -> Bool {
        try await store.get(key)?.createRevision == token
    }

    /// Releases the lock, and removes any entry of the same join that landed after it was let
    /// in (a create whose reply was lost). When such a create may still land, the entries it
    /// makes are removed as they appear, in a task of its own, until the session ends or the
    /// handle closes. Releasing a lock already lost is not an error.
    ///
    /// Store failures that may pass (lost contact, a time-out) are retried, with back-off, for as
    /// long as the session may hold the entry, in a task of its own (a cancelled caller still
    /// releases): a caller that released once and went on, its release failed, left its entry (or
    /// a late one of its join) ahead of everyone for as long as the session lived. Out of contact
    /// for longer than the session can last, it returns, and the removal goes on once contact is
    /// back in the session, if the server kept it (see
    /// ``SequentialQueue/leaveSurely(_:session:afterReconnecting:)``; not for a lease of
    /// ``LeaderElection/lead(_:)``, which removes its entries itself).
    /// - Throws: a failure that will not pass (refused permission, a closed handle), once met
    ///   (failures before it that may pass were retried): retrying it would change nothing. Not a
    ///   session that expired or was replaced: its entry went with it.
    public func release() async throws {
        let queue = SequentialQueue(store: store, path: key.parent ?? .root)
        if lateEntriesMayLand { queue.removeLateEntries(of: key, session: sessionID) }
        let key = key
        let removal: @Sendable () async throws -> Void = { try await queue.leaveWithLateEntries(key) }
        switch await StoreFailure.retrying(in: store, by: sessionID, removal) {
        case .done: return
        case .failed(let error): throw error
        case .sessionMayBeGone:
            guard removedAfterReconnecting else { return }
            StoreFailure.retryingOnceBackInSession(in: store, by: sessionID, removal)
        }
    }

    public static func == (lhs: LockLease, rhs: LockLease) -> Bool { lhs.key == rhs.key && lhs.token == rhs.token }
    public func hash(into hasher: inout Hasher) {
        hasher.combine(key)
        hasher.combine(token)
    }
}
