public import Coordination

/// The queue under a lock, semaphore or election path: ephemeral-sequential children ordered by
/// their sequence suffix (not by name, since names carry a per-contender marker before it).
public struct SequentialQueue: Sendable {
    public let store: any CoordinationStore
    public let path: Key

    public init(store: any CoordinationStore, path: Key) {
        self.store = store
        self.path = path
    }

    /// The sequence number at the end of a sequential key's name, if it has one.
    public static func sequence(of name: String) -> Int64? {
        let digits = CoordinationLimits.sequenceDigits
        guard name.utf8.count >= digits else { return nil }
        return Int64(String(name.utf8.suffix(digits))!)
    }

    /// The name of an entry without its sequence number: the same for every entry one join
    /// made (its prefix and its random marker), different between joins.
    public static func stem(of name: String) -> Substring {
        name.dropLast(CoordinationLimits.sequenceDigits)
    }

    /// The stem of the entries a join with `prefix` and `marker` makes.
    static func stem(prefix: String, marker: String) -> String { "\(prefix)-\(marker)-" }

    /// The queue's entries, first in line first.
    public func entries() async throws -> [String] {
        let names: [String]
        do {
            names = try await store.children(of: path)
        } catch let error as CoordinationError where error.code == .noNode {
            return []
        }
        return names.compactMap { name in Self.sequence(of: name).map { (name, $0) } }
            .sorted { $0.1 < $1.1 }
            .map(\.0)
    }

    /// Joins the queue with protected creation: the name carries a random marker, so that when a
    /// reply is lost or late (`connectionLoss`, `timeout`: the outcome is unknown) the entry this
    /// contender did create is found again instead of being left behind as an orphan that would
    /// block everyone. When the search itself fails, or the join is cancelled after such a reply,
    /// any entry with the marker is removed (through store errors, while the session that may
    /// hold it may live) before the error is thrown; with `afterReconnecting`, so is every entry
    /// of the marker that lands later, as it appears, until the session ends.
    /// - Parameters:
    ///   - marker: the marker to put in the name; a contender that joins again keeps its own, so
    ///     that a create of an earlier join landing late is known as its own too.
    ///   - afterReconnecting: whether that removal goes on once contact is back in the session,
    ///     when the session was out of contact for longer than it can last (see
    ///     ``leaveSurely(_:session:afterReconnecting:)``): only when no later join will carry
    ///     `marker`, which a removal landing late would take with it.
    public func join(
        prefix: String, value: [UInt8] = [], marker: String = Self.marker(), afterReconnecting: Bool = false
    ) async throws -> Record {
        try await joinTellingUnresolved(prefix: prefix, value: value, marker: marker, afterReconnecting: afterReconnecting).entry
    }

    /// ``join(prefix:value:marker:afterReconnecting:)``, also telling whether a create of the
    /// join may still land: one whose reply was lost and that is not the entry returned (the
    /// server may apply it after a later one, behind the entry, at any time while the session
    /// lives), or that is, when the entry found may be an earlier join's.
    ///
    /// A join that fails after a lost reply, with `afterReconnecting` (no later join carries the
    /// marker), also has the entries of the marker removed as they appear until the session ends
    /// (``removeLateEntries(stem:session:)``): the removal before it throws cannot see a create
    /// that lands after it.
    /// - Parameters:
    ///   - unresolved: where to note the sessions of every create whose reply was lost, the one
    ///     found included: for a caller whose joins share a marker, the entry found may be an
    ///     earlier join's, and the create still to land.
    ///   - earlierJoins: whether an earlier join with `marker` may have left an entry (its removal
    ///     given up out of contact, in a session the server kept): the entry found after a lost
    ///     reply may then be that one, the create still to land.
    func joinTellingUnresolved(
        prefix: String, value: [UInt8], marker: String, afterReconnecting: Bool, noting unresolved: UnresolvedCreates? = nil,
        afterEarlierJoins earlierJoins: Bool = false
    ) async throws -> (entry: Record, unresolved: Bool) {
        let stem = Self.stem(prefix: prefix, marker: marker)
        let key = try path.child(stem)
        // The session an entry of unknown outcome would belong to, once there is one.
        var unsureIn: String?
        // The sessions of every lost create, which may still land unless found.
        var lostIn: Set<String> = []
        var lostReplies = 0
        do {
            while true {
                try Task.checkCancellation()
                do {
                    let entry = try await store.create(key, value: value, mode: .ephemeralSequential)
                    unresolved?.note(lostIn)
                    return (entry, lostReplies > 0)
                } catch let error as CoordinationError where error.code == .connectionLoss || error.code == .timeout {
                    unsureIn = store.session.sessionID
                    lostIn.insert(store.session.sessionID)
                    lostReplies += 1
                    // The one found is one of the lost creates; any other may still land.
                    if let mine = try await find(marker: marker) {
                        // Noted even after one lost reply: with a marker the caller's joins share,
                        // the one found may be an entry an earlier join left (given up out of
                        // contact, in a session the server kept), this create still to land.
                        unresolved?.note(lostIn)
                        return (mine, lostReplies > 1 || earlierJoins)
                    }
                }
            }
        } catch {
            unresolved?.note(lostIn)
            // Started first: a create landing while the removal below waits is removed too.
            if afterReconnecting {
                for session in lostIn { removeLateEntries(stem: stem, session: session) }
            }
            if let unsureIn { await leaveSurely(marker: marker, session: unsureIn, afterReconnecting: afterReconnecting) }
            throw error
        }
    }

    /// Removes every entry with `marker`, as ``leaveSurely(_:session:afterReconnecting:)`` removes
    /// one key; after reconnecting only when told: a caller may join again with the same marker
    /// (``LeaderElection/lead(_:)`` does), and a removal landing after that would take the new
    /// entry, held or not, with the old. Such a caller removes what is left as its own strays,
    /// and passes `afterReconnecting` once it will join with the marker no more.
    func leaveSurely(marker: String, session sessionID: String, afterReconnecting: Bool = false) async {
        let queue = self
        let removal: @Sendable () async throws -> Void = {
            for name in try await queue.entries() where name.contains("-\(marker)-") {
                try await queue.leave(try queue.path.child(name))
            }
        }
        guard afterReconnecting else {
            await StoreFailure.retryingWhileHeld(in: store, by: sessionID, removal)
            return
        }
        await StoreFailure.retryingUntilSessionEnds(in: store, by: sessionID, removal)
    }

    /// Leaves the queue; an entry already gone is not an error.
    public func leave(_ key: Key) async throws {
        do {
            try await store.delete(key)
        } catch let error as CoordinationError where error.code == .noNode {}
    }

    /// Leaves the queue with `key`, then removes the other entries of the join that made it
    /// (the same prefix and marker): a create whose reply was lost, not found by the join's
    /// search, can land after the acquirer was let in, behind its entry, where the acquirer,
    /// holding, no longer looks. Left there, it blocked everyone who queued behind it for as long
    /// as the holder's session lived. Not while another join with the same marker may be under way.
    public func leaveWithLateEntries(_ key: Key) async throws {
        try await leave(key)
        let stem = Self.stem(of: key.name)
        for name in try await entries() where Self.stem(of: name) == stem {
            try await leave(try path.child(name))
        }
    }

    /// Removes the entries of the join that made `key` as they appear, until session `sessionID`
    /// ends (taking any with it) or the handle closes: a create of the join whose reply was lost
    /// and that its search did not find may land after the entry was given up (released, or left
    /// by an acquisition that gave up). Nobody looked for it then, and it stayed in line for
    /// nobody, ahead of everyone who queued after it (first in line: the lock or the leadership
    /// held by nobody) for as long as the session lived. Only for a marker no later join carries:
    /// it would take that join's entry.
    func removeLateEntries(of key: Key, session sessionID: String) {
        removeLateEntries(stem: String(Self.stem(of: key.name)), session: sessionID)
    }

    /// ``removeLateEntries(of:session:)`` for the entries named `stem` and a sequence number.
    ///
    /// One sweep (a task and a watch) per handle, queue and session does it for every stem
    /// given, so a session that loses many replies does not gather a sweep per join. A stem
    /// added to a running sweep is also looked for once in a listing: its sweep may have seen an
    /// entry of it land before it was added. A stem added to a sweep that ends (on a failure
    /// that will not pass) before looking at the queue again goes to a fresh sweep (see
    /// ``LateEntrySweeps/end(_:)``).
    func removeLateEntries(stem: String, session sessionID: String) {
        let queue = self
        guard let owner = LateEntrySweeps.Owner(store: store, path: path, sessionID: sessionID) else {
            // No identity to share a sweep by: one of its own.
            Task { await sweep(session: sessionID) { [stem] } }
            return
        }
        guard LateEntrySweeps.shared.add(stem, to: owner, store: store) else {
            Task {
                await StoreFailure.retryingWhileHeld(in: queue.store, by: sessionID) {
                    for name in try await queue.entries() where Self.stem(of: name) == stem {
                        try await queue.leave(try queue.path.child(name))
                    }
                }
            }
            return
        }
        Task {
            repeat {
                await queue.sweep(session: sessionID) { LateEntrySweeps.shared.stems(of: owner) }
            } while LateEntrySweeps.shared.end(owner)
        }
    }

    /// Removes the entries with one of `stems` as they appear, until session `sessionID` ends or
    /// the sweep does (see ``removeAsTheyAppear(stems:)``).
    private func sweep(session sessionID: String, stems: @escaping @Sendable () -> Set<String>) async {
        let queue = self
        await withTaskGroup(of: Void.self) { group in
            group.addTask {
                _ = await queue.store.waitForSession { $0.sessionID != sessionID || [.expired, .closed].contains($0.state) }
            }
            group.addTask { await queue.removeAsTheyAppear(stems: stems) }
            await group.next()
            group.cancelAll()
        }
    }

    /// Watches the queue and removes every entry with one of `stems` it sees, until cancelled,
    /// the watch ends (the handle closed), or a failure that will not pass.
    private func removeAsTheyAppear(stems: @Sendable () -> Set<String>) async {
        var backoff = Backoff(first: .milliseconds(20), cap: .seconds(1))
        while !Task.isCancelled {
            do {
                for try await event in store.watch(path, scope: .children) {
                    // Read at every event, even one with nothing to remove: the sweep has looked
                    // for these stems from now on (see ``LateEntrySweeps/end(_:)``).
                    let removed = stems()
                    let names: [String] =
                        switch event {
                        case .snapshot(let records): records.filter { $0.key.parent == path }.map(\.key.name)
                        case .put(let record) where record.key.parent == path: [record.key.name]
                        case .put, .delete: []
                        }
                    for name in names where removed.contains(String(Self.stem(of: name))) { try await leave(try path.child(name)) }
                }
                return
            } catch {
                guard StoreFailure.mayPass(error, store: store) else { return }
                try? await backoff.pause()
            }
        }
    }

    /// Leaves the queue even through store errors: a failed delete is tried again, with back-off,
    /// for as long as the entry may still exist, that is while the session that created it may
    /// live (an ephemeral entry goes with its session). A contender that gives up must not leave
    /// its entry behind: everyone queued after it would wait for a lock nobody will take, for as
    /// long as its process lives. A failure that will not pass (refused permission) is not
    /// retried: nothing would change it. Runs in a task of its own, so a cancelled caller still
    /// gets its entry removed.
    /// - Parameter afterReconnecting: when the session is out of contact for longer than it can
    ///   last, the caller stops waiting, but the entry is removed once contact comes back in that
    ///   session (see ``StoreFailure/retryingUntilSessionEnds(in:by:_:)``): a server that kept
    ///   the session kept the entry, which would hold up this handle's next attempt behind
    ///   itself. Pass `false` when a later join may carry the entry's marker: looking for its
    ///   own entry after a lost reply, it could take this one, and the removal would then take
    ///   an entry in use.
    public func leaveSurely(_ key: Key, session sessionID: String, afterReconnecting: Bool = true) async {
        let queue = self
        guard afterReconnecting else {
            await StoreFailure.retryingWhileHeld(in: store, by: sessionID) { try await queue.leave(key) }
            return
        }
        await StoreFailure.retryingUntilSessionEnds(in: store, by: sessionID) { try await queue.leave(key) }
    }

    /// Whether session `sessionID` may still be alive on the server, as far as `current` tells.
    /// Suspended, it is given two TTLs from the last contact (the server may have heard from us a
    /// little later than we heard from it); after that the server has ended it.
    static func mayStillHold(_ current: SessionEvent, _ sessionID: String, now: ContinuousClock.Instant = .now) -> Bool {
        guard current.sessionID == sessionID else { return false }
        switch current.state {
        case .connected, .reconnected: return true
        case .suspended: return now < current.lastContact.advanced(by: current.ttl * 2)
        case .expired, .closed: return false
        }
    }

    private func find(marker: String) async throws -> Record? {
        for name in try await entries() where name.contains("-\(marker)-") {
            if let record = try await store.get(try path.child(name)) { return record }
        }
        return nil
    }

    /// A new random marker for ``join(prefix:value:marker:)``: 96 bits, in hex.
    public static func marker() -> String {
        let high = UInt64.random(in: .min ... .max)
        let low = UInt32.random(in: .min ... .max)
        return String(high, radix: 16) + String(low, radix: 16)
    }

    /// Waits until `key` no longer exists (returns at once if it is already gone).
    public func waitForDeletion(of key: Key) async throws {
        for try await event in store.watch(key, scope: .key) {
            switch event {
            case .snapshot(let records) where records.isEmpty: return
            case .delete: return
            case .snapshot, .put: continue
            }
        }
        try Task.checkCancellation()
    }

    /// Waits until one of `names` (entries of this queue) is gone, or returns at once if one is
    /// (or if `names` is empty).
    /// Other changes, such as contenders joining behind, do not end the wait: a waiter that
    /// only a leaving entry can let in is not woken (to list the queue again) by every arrival.
    public func waitForDeletion(ofAnyOf names: some Sequence<String>) async throws {
        let watched = Set(names)
        if watched.isEmpty { return }  // nothing to wait for (and a snapshot would never show a loss)
        for try await event in store.watch(path, scope: .children) {
            switch event {
            case .snapshot(let records):
                let present = Set(records.lazy.filter { $0.key.parent == path }.map(\.key.name))
                if !watched.isSubset(of: present) { return }
            case .delete(let key) where key.parent == path && watched.contains(key.name): return
            case .put, .delete: continue
            }
        }
        try Task.checkCancellation()
    }

    /// Waits until the queue's entries differ from `entries`.
    public func waitForChange(from entries: [String]) async throws {
        for try await event in store.watch(path, scope: .subtree) {
            if case .snapshot = event {
                if try await self.entries() != entries { return }
                continue
            }
            return
        }
        try Task.checkCancellation()
    }
}
