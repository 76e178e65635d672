public import Coordination

/// A barrier that holds everyone back while its key exists.
public struct Barrier: Sendable {
    public let store: any CoordinationStore
    public let key: Key

    public init(store: any CoordinationStore, key: Key) {
        self.store = store
        self.key = key
    }

    /// Raises the barrier; raising it twice is not an error.
    public func raise() async throws {
        do {
            _ = try await store.create(key, value: [], mode: .persistent)
        } catch let error as CoordinationError where error.code == .nodeExists {}
    }

    /// Lowers the barrier, releasing everyone waiting.
    public func lower() async throws {
        do {
            try await store.delete(key)
        } catch let error as CoordinationError where error.code == .noNode {}
    }

    /// Waits until the barrier is down (returns at once if it is).
    public func wait() async throws {
        try await SequentialQueue(store: store, path: key.parent ?? .root).waitForDeletion(of: key)
    }
}

/// A double barrier: `count` participants enter together and leave together.
///
/// Participants are ephemeral keys under `path/members`, each holding a marker drawn afresh by
/// every ``enter(id:)``. The one whose arrival completes the group raises `path/ready`, so a
/// participant that looks late (after an early one has already left again) still sees that the
/// group was complete; the last of them to leave lowers it. The same `count` participants may go
/// through it round after round: one that has left may enter the next round at once (see
/// ``leave(id:)``).
///
/// `ready` names the group it lets through: its value is the markers of the members the raiser
/// saw, one per line (UTF-8, `\n`-separated, in no particular order), and an enter passes only on
/// a `ready` naming its own marker. One left raised by an earlier round (every leaver stopped
/// before lowering it, a process killed mid-leave, or an older version's, with an empty value)
/// names nobody now in, so it holds nobody back and lets nobody through early: the participant
/// that finds the group complete replaces it. A marker is about 25 bytes, so `ready` fits the
/// store's value limit for groups of up to about 40,000 participants.
public struct DoubleBarrier: Sendable {
    public let store: any CoordinationStore
    public let path: Key
    public let count: Int
    let members: Key
    let ready: Key

    public init(store: any CoordinationStore, path: Key, count: Int) throws {
        guard count > 0 else {
            throw CoordinationError(.invalidConfiguration, "a double barrier needs at least one participant, got \(count)")
        }
        self.store = store
        self.path = path
        self.count = count
        self.members = try path.child("members")
        self.ready = try path.child("ready")
    }

    /// Enters as `id` and waits until `count` participants are (or were) in together.
    ///
    /// A participant that stops waiting (cancelled, or a store error) leaves the group before it
    /// throws: left there, it would be counted in, letting the others pass one short, and then
    /// hold up their `leave` for as long as its session lives.
    /// - Throws: ``RecipeError/sessionLost(_:)`` when its member is gone before the group was
    ///   complete (its session ended): it is not in the group, and may enter again.
    public func enter(id: String) async throws {
        let me = try members.child(id)
        // Protected creation: the member carries a marker of this enter, so that after a reply
        // lost on its create (the outcome unknown) the member found is known to be ours, and
        // one that is ours can be removed on the way out without touching another's of that id.
        let marker = Array(SequentialQueue.marker().utf8)
        var made = false
        do {
            try await join(me, marker: marker, made: &made)
            var records: [Key: Record] = [:]
            for try await event in store.watch(path, scope: .subtree) {
                records.apply(event)
                if let raised = records[ready], Self.markers(in: raised.value).contains(marker) { return }
                if records[me] == nil {
                    throw RecipeError.sessionLost("\(me) left double barrier \(path) before it was complete (its session ended, or it was removed)")
                }
                let group = records.values.filter { $0.key.parent == members }
                if group.count >= count {
                    try await raiseReady(naming: Set(group.map(\.value)), for: marker)
                    return
                }
            }
            try Task.checkCancellation()
        } catch {
            // The session now, not the one read before the join: the create may be what found
            // that one ended and got a new one (etcd), and then the member is the new one's. A
            // member of an earlier session than this is gone with it.
            if made { await leaveSurely(me, marker: marker, session: store.session.sessionID) }
            throw error
        }
    }

    /// Raises `ready` naming `group` (the markers of the members seen when the group was
    /// complete, `marker`, ours, among them), and returns once it names ours.
    ///
    /// One that does not name ours is replaced, by compare-and-set on the version read: an
    /// earlier round's (it names none of `group`) by `group` alone, this round's (another raiser
    /// saw the group at another moment) by both, so nobody it named loses its pass. A raiser that
    /// lost the race (the key made, changed or lowered meanwhile) reads it again. A lost reply is
    /// tried again rather than thrown, the read telling whether the write landed: the others may
    /// already have passed, and this participant would give up its place in a group that went
    /// on without it.
    private func raiseReady(naming group: Set<[UInt8]>, for marker: [UInt8]) async throws {
        var backoff = Backoff(first: .milliseconds(20), cap: .seconds(1))
        while true {
            do {
                let raised = try await store.get(ready)
                var named = raised.map { Self.markers(in: $0.value) } ?? []
                if named.contains(marker) { return }
                if named.isDisjoint(with: group) { named = [] }
                let value = Self.value(naming: named.union(group))
                if let raised {
                    _ = try await store.set(ready, value: value, ifVersion: raised.version)
                } else {
                    _ = try await store.create(ready, value: value, mode: .persistent)
                }
                return
            } catch let error as CoordinationError
                where error.code == .nodeExists || error.code == .versionConflict || error.code == .noNode {
                continue
            } catch let error as CoordinationError where error.code == .connectionLoss || error.code == .timeout {
                try await backoff.pause()
            }
        }
    }

    /// The markers a `ready` value names (see the type's documentation for the encoding).
    private static func markers(in value: [UInt8]) -> Set<[UInt8]> {
        Set(value.split(separator: UInt8(ascii: "\n")).map { Array($0) })
    }

    /// `ready`'s value naming `markers`.
    private static func value(naming markers: Set<[UInt8]>) -> [UInt8] {
        Array(markers.joined(separator: [UInt8(ascii: "\n")]))
    }

    /// Creates our member; `made` is set as soon as one may exist. A member of that id holding
    /// another marker is another participant's: `nodeExists`.
    private func join(_ me: Key, marker: [UInt8], made: inout Bool) async throws {
        while true {
            try Task.checkCancellation()
            do {
                _ = try await store.create(me, value: marker, mode: .ephemeral)
                made = true
                return
            } catch let error as CoordinationError where error.code == .connectionLoss || error.code == .timeout {
                made = true
                if try await store.get(me)?.value == marker { return }
            } catch let error as CoordinationError where error.code == .nodeExists {
                // A create of ours whose reply was lost may have landed late.
                if made, try await store.get(me)?.value == marker { return }
                throw error
            }
        }
    }

    /// Removes our member (the one carrying `marker`) through store errors, while session
    /// `sessionID`, which it belongs to, may live, and once contact is back if that session
    /// outlived an outage longer than it can last (see
    /// ``StoreFailure/retryingUntilSessionEnds(in:by:_:)``): left there, the member would be
    /// counted in, and this participant entering again refused (`nodeExists`). The marker check
    /// keeps a removal landing late off a later enter's member of the same id.
    private func leaveSurely(_ me: Key, marker: [UInt8], session sessionID: String) async {
        let store = store
        await StoreFailure.retryingUntilSessionEnds(in: store, by: sessionID) {
            do {
                guard let record = try await store.get(me), record.value == marker else { return }
                try await store.delete(me, ifVersion: record.version, recursive: false)
            } catch let error as CoordinationError where error.code == .noNode || error.code == .versionConflict {}
        }
    }

    /// Leaves as `id`, waits until every participant that was in when it left has left too, then
    /// lowers `ready` (every leaver does; one already lowered is no error).
    ///
    /// Those it waits for are the members there just before its own goes, each known by its
    /// `createRevision`: a participant that has left and already entered the next round on the
    /// same path (its member made again under the same key) is not waited for. Waiting until no
    /// member at all was left, a slow leaver that looked after the others had entered again waited
    /// for them to leave a round they could not complete without it, and nobody ever got out.
    ///
    /// A failed delete of its member that may pass (contact lost) is tried again; a leave that
    /// stops before its member is gone (cancelled, or another error) removes it before it throws,
    /// while its session may live, as a cancelled ``enter(id:)`` does. A leave that stops also
    /// lowers `ready` when no other participant of the round is left in: the last one out does,
    /// whether it completed or gave up, so the next round on the path does not find it raised
    /// (unless that last one's own handle was closed: it can lower nothing). One left raised
    /// names this round's markers only: the next round does not pass on it, but replaces it once
    /// its group is complete.
    public func leave(id: String) async throws {
        let me = try members.child(id)
        var records: [Key: Record] = [:]
        var inWhenLeaving: [Key: Int64]?
        // Whether our member is surely gone: until it is, a leave that stops (cancelled, a store
        // error) removes it on the way out. Left there, it held up every other participant's
        // leave for as long as its session lived.
        var gone = false
        do {
            for try await event in store.watch(members, scope: .subtree) {
                records.apply(event)
                if inWhenLeaving == nil {
                    // The first event is the snapshot: who is in, ourselves included, before we go.
                    inWhenLeaving = Dictionary(
                        uniqueKeysWithValues: records.values.filter { $0.key.parent == members }.map { ($0.key, $0.createRevision) })
                    try await remove(me)
                    gone = true
                }
                let stillIn = inWhenLeaving?.contains { key, revision in records[key]?.createRevision == revision } ?? true
                if !stillIn {
                    do {
                        try await store.delete(ready)
                    } catch let error as CoordinationError where error.code == .noNode {}
                    return
                }
            }
            try Task.checkCancellation()
        } catch {
            if !gone { await removeSurely(me, joinedAt: inWhenLeaving?[me]) }
            await lowerReadyIfLastOut(me, inWhenLeaving: inWhenLeaving)
            throw error
        }
    }

    /// Lowers `ready` when no other participant of this round is still in, as a leave that saw
    /// them all go does: should every leaver stop before that (cancelled, its store closed), the
    /// last to stop lowers it, so that no stale `ready` stays behind (the next round would not
    /// pass on it, but would find it there). Read after our own member went: of the last ones to
    /// go at once, the one whose member went last sees the others gone. In a task of its own,
    /// so that a cancelled caller still gets it done. Best effort: a store error leaves it to
    /// the others, as this one cannot tell whether it is the last.
    /// - Parameter inWhenLeaving: the members in (by creation revision) when this leave began,
    ///   `nil` when it stopped before it saw them: then any member but ours counts as still in.
    private func lowerReadyIfLastOut(_ me: Key, inWhenLeaving: [Key: Int64]?) async {
        let (store, members, ready) = (store, members, ready)
        await Task {
            let records: [Record]
            do {
                records = try await store.records(under: members)
            } catch let error as CoordinationError where error.code == .noNode {
                records = []
            } catch {
                return  // out of reach: whether this one is the last cannot be told
            }
            let stillIn = records.contains { record in
                guard record.key.parent == members else { return false }
                // Ours, still there (its removal failed, the store closed): the others wait for it.
                guard record.key != me, let inWhenLeaving else { return true }
                return inWhenLeaving[record.key] == record.createRevision
            }
            guard !stillIn else { return }
            do {
                try await store.delete(ready)
            } catch {
                // Gone already (another leaver lowered it), or out of reach: the others' to do.
            }
        }.value
    }

    /// Deletes our member through failures that may pass (a failed delete is tried again, as
    /// raising `ready` is): thrown, it left the member in and the others waiting for it.
    private func remove(_ me: Key) async throws {
        var backoff = Backoff(first: .milliseconds(20), cap: .seconds(1))
        while true {
            do {
                try await store.delete(me)
                return
            } catch let error as CoordinationError where error.code == .noNode {
                return
            } catch where StoreFailure.mayPass(error, store: store) {
                try await backoff.pause()
            }
        }
    }

    /// Removes the member of a leave that stopped, in a task of its own (a cancelled caller still
    /// gets it done), while its session may live: the one created at `joinedAt` when the leave saw
    /// it, else the one there now (this participant has not entered again: it is still leaving).
    private func removeSurely(_ me: Key, joinedAt: Int64?) async {
        let store = store
        await StoreFailure.retryingWhileHeld(in: store, by: store.session.sessionID) {
            do {
                guard let record = try await store.get(me), joinedAt == nil || record.createRevision == joinedAt else { return }
                try await store.delete(me, ifVersion: record.version, recursive: false)
            } catch let error as CoordinationError where error.code == .noNode || error.code == .versionConflict {}
        }
    }
}

/// An atomic counter kept as a decimal string in one key, updated by compare-and-set.
public struct Counter: Sendable {
    public let store: any CoordinationStore
    public let key: Key

    public init(store: any CoordinationStore, key: Key) {
        self.store = store
        self.key = key
    }

    /// The value now (0 when the key is absent).
    public func value() async throws -> Int64 {
        guard let record = try await store.get(key) else { return 0 }
        return try Self.decode(record)
    }

    /// Adds `delta` atomically and returns the new value; retries when another writer got there first.
    /// - Throws: `connectionLoss` (or the store's `timeout`) when a write's reply was lost: the add
    ///   may have been applied, and adding again may count it twice.
    @discardableResult
    public func add(_ delta: Int64) async throws -> Int64 {
        while true {
            try Task.checkCancellation()
            if let record = try await store.get(key) {
                let (next, overflow) = try Self.decode(record).addingReportingOverflow(delta)
                if overflow { throw CoordinationError(.invalidConfiguration, "counter \(key) would overflow", key: key) }
                do {
                    _ = try await store.set(key, value: Array(String(next).utf8), ifVersion: record.version)
                    return next
                } catch let error as CoordinationError where error.code == .versionConflict || error.code == .noNode {
                    continue
                }
            } else {
                do {
                    _ = try await store.create(key, value: Array(String(delta).utf8), mode: .persistent)
                    return delta
                } catch let error as CoordinationError where error.code == .nodeExists {
                    continue
                }
            }
        }
    }

    private static func decode(_ record: Record) throws -> Int64 {
        guard let value = Int64(record.string) else {
            throw CoordinationError(.invalidConfiguration, "counter \(record.key) holds '\(record.string.prefix(40))', not an integer", key: record.key)
        }
        return value
    }
}
