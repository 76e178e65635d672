public import Coordination
public import Logging

/// One live member of a group.
public struct Member: Sendable, Hashable {
    public let id: String
    public let metadata: [UInt8]
    /// When it joined (its key's `createRevision`): members sort by it, then by id.
    public let joinedRevision: Int64

    /// Join order; members created in one transaction share a revision, and go by id.
    static func joinOrder(_ a: Member, _ b: Member) -> Bool {
        (a.joinedRevision, a.id) < (b.joinedRevision, b.id)
    }
}

/// Group membership under `group`: each member is an ephemeral key `group/ID` whose value is its
/// metadata, so a member that dies leaves the group when its session ends.
public struct Membership: Sendable {
    public let store: any CoordinationStore
    public let group: Key
    let logger: Logger

    public init(store: any CoordinationStore, group: Key, logger: Logger = Logger(label: "coordination.membership")) {
        self.store = store
        self.group = group
        self.logger = logger
    }

    /// Joins as `id` until ``leave(id:)`` or the session ends.
    ///
    /// A create whose reply is lost (`connectionLoss`, `timeout`) may have made the member: the
    /// join then tries again while the session that sent it may live, and a member it finds
    /// owned by that session (``Record/ownerSession``) with this call's metadata is the one it
    /// made, and is returned. The session that sent it is the one the store reports after the
    /// failure: a join called between a session's end and the report of the next one is written
    /// in that next one. A join that gives up meanwhile (cancelled, or out of contact for
    /// longer than the session can last) removes that member if it finds it, once contact is
    /// back in that session if need be: a server may have kept the session, and the member.
    /// - Throws: `nodeExists` when a live member already uses `id`: so does the member of a
    ///   process that ended without leaving (killed, crashed), until its session expires, within
    ///   its TTL; `invalidKey` for an id that is not a valid key segment; `valueTooLarge` for
    ///   metadata over the store's value limit; a failure before any create could land, as is;
    ///   after a lost reply, the last failure once the session that sent it has ended (and the
    ///   member with it) or is out of contact for longer than it can last.
    @discardableResult
    public func join(id: String, metadata: [UInt8] = []) async throws -> Member {
        let session = store.session.sessionID
        var unsure: UnsureJoin?
        do {
            // The `.join` loop ends with a member or an error: `nil` is only for `stayJoined`.
            guard let member = try await join(id: id, metadata: { metadata }, in: session, previous: nil, unsure: &unsure, caller: .join)
            else { throw CoordinationError(.sessionExpired, "the session ended before member \(id) joined group \(group)") }
            return member
        } catch {
            // Whatever ended the join, the caller is told it is no member: a member a lost reply
            // made stayed listed, its id refused, for as long as the session lived.
            if let unsure { await leave(unsure, id: id) }
            throw error
        }
    }

    /// Replaces `member`'s metadata, provided it is still that membership (joined at the same
    /// revision, not a later member under the same id, as read just before the write, which is
    /// a compare-and-set of the version read); returns it as updated.
    /// - Throws: `noNode` when that membership has ended (left, or its session ended);
    ///   `versionConflict` when the value kept changing under it.
    @discardableResult
    public func update(_ member: Member, metadata: [UInt8]) async throws -> Member {
        let key = try group.child(member.id)
        for _ in 0..<Self.updateAttempts {
            try Task.checkCancellation()
            guard let current = try await store.get(key), current.createRevision == member.joinedRevision else {
                throw CoordinationError(.noNode, "member \(member.id) of group \(group) has left", key: key)
            }
            do {
                let record = try await store.set(key, value: metadata, ifVersion: current.version)
                return Member(id: member.id, metadata: record.value, joinedRevision: record.createRevision)
            } catch let error as CoordinationError where error.code == .versionConflict {
                // Changed since the read: written meanwhile, or ended and joined anew. Read again.
            }
        }
        throw CoordinationError(.versionConflict, "member \(member.id) of group \(group) kept changing; not updated", key: key)
    }

    /// Reads and compare-and-sets in ``update(_:metadata:)`` before it gives up.
    static let updateAttempts = 5

    /// Ends whatever membership holds `id`, this process's or another's (to end only one's own,
    /// use ``leave(_:)``); leaving twice is not an error.
    public func leave(id: String) async throws {
        do {
            try await store.delete(try group.child(id))
        } catch let error as CoordinationError where error.code == .noNode {}
    }

    /// Ends `member`'s membership only: a later member under the same id (another process that
    /// joined once this one's session ended) is left alone. Not an error when it has ended.
    ///
    /// Each try reads the key first and deletes it only if it was created at `member`'s revision
    /// (every later join has a larger one), at the version read. The store checks that version,
    /// not the creation, and a new member starts at version 0 again: only a removal of this
    /// member and a new join under its id both landing between that read and the delete, a
    /// round trip, could still be taken for it.
    /// - Throws: `versionConflict` when the member kept changing under it (updated between each
    ///   read and delete, five times in a row): it is still a member, as after
    ///   ``update(_:metadata:)`` gives up; store failures as they come.
    public func leave(_ member: Member) async throws {
        let key = try group.child(member.id)
        for _ in 0..<Self.updateAttempts {
            guard let current = try await store.get(key), current.createRevision == member.joinedRevision else { return }
            do {
                // At the version read: an update in between is read again, not deleted blind.
                try await store.delete(key, ifVersion: current.version, recursive: false)
                return
            } catch let error as CoordinationError where error.code == .noNode {
                return  // gone already: left
            } catch let error as CoordinationError where error.code == .versionConflict {
                // Updated meanwhile, or ended and joined anew: read again.
            }
        }
        // The last conflict may have been its end (and a new member under its id).
        guard let current = try await store.get(key), current.createRevision == member.joinedRevision else { return }
        // Returning would tell the caller it left while the member is still listed.
        throw CoordinationError(.versionConflict, "member \(member.id) of group \(group) kept changing; not removed", key: key)
    }

    /// Stays a member until cancelled, joining again whenever the session is replaced after an
    /// expiry (the old membership vanished with it). Leaves when cancelled, and throws
    /// `CancellationError`; throws `unavailable` when the handle is closed (the membership went
    /// with its session), and the errors of a join that cannot succeed (the id taken by another
    /// live member, or still by this member's own predecessor: a process restarted under the
    /// same id before its killed predecessor's session expired; metadata too large).
    /// A member whose key someone else deletes (``leave(id:)`` from another handle, `coord kv rm`)
    /// is not made again until its session is replaced: within one session, a deleted member
    /// counts as removed on purpose. Leaving when cancelled goes on through store errors while the
    /// session may live (up to two TTLs out of contact), so a cancellation may take that long;
    /// cancelled out of contact for longer, it returns, and the member is removed once contact
    /// comes back in that session, if the server kept it (a `stayJoined` with the same id started
    /// on that handle before then is refused as the id taken: try again once the member is gone).
    /// - Parameter joined: called after each join with the member and the session it joined in
    ///   (its `sessionID`): what a caller needs to tie work to this membership.
    public func stayJoined(
        id: String, metadata: [UInt8] = [], joined: @Sendable (Member, _ sessionID: String) -> Void = { _, _ in }
    ) async throws {
        try await stayJoined(id: id, metadata: { metadata }, joined: joined)
    }

    /// ``stayJoined(id:metadata:joined:)`` with the metadata read at each join: a member that
    /// changes it with ``update(_:metadata:)`` joins again after an expiry with what it said last.
    public func stayJoined(
        id: String, metadata: @Sendable () -> [UInt8], joined: @Sendable (Member, _ sessionID: String) -> Void = { _, _ in }
    ) async throws {
        var joinedSession: String?
        // Only what this call joined is left: a join refused because another live member holds
        // the id must not end that member's membership on the way out.
        var membership: Member?
        // The joins whose outcome is unknown (the reply was lost): one may have made the member
        // without our hearing of it, before a cancellation cut the retry short.
        var unsure: UnsureJoin?
        // Through store errors, while the session that made it may live: one failed try left the
        // member listed for as long as the handle stayed open. Out of contact for longer than the
        // session can last, again once contact is back in that session (a server may have kept
        // it): the member stayed listed, and its id refused to every join, for as long as the
        // session lived. That late removal reads the member's creation first, as `leave(_:)`
        // does, so a later member under the same id is not taken (but in the round trip that
        // method describes). A member of unknown outcome is known by its owner session and value:
        // another handle's member with the same metadata is not taken for it.
        func leaveWhatWasMade() async {
            if let membership, let joinedSession {
                await StoreFailure.retryingUntilSessionEnds(in: store, by: joinedSession) { try await leave(membership) }
            }
            if let unsure { await leave(unsure, id: id) }
        }
        do {
            for await event in store.sessionEvents() {
                try Task.checkCancellation()
                guard event.state == .connected || event.state == .reconnected, event.sessionID != joinedSession else { continue }
                if let member = try await join(
                    id: id, metadata: metadata, in: event.sessionID, previous: membership, unsure: &unsure, caller: .stayJoined)
                {
                    joinedSession = event.sessionID
                    membership = member
                    joined(member, event.sessionID)
                    logger.debug("joined group", metadata: ["group": "\(group)", "member": "\(id)"])
                }
            }
        } catch {
            await leaveWhatWasMade()
            throw error
        }
        await leaveWhatWasMade()
        try Task.checkCancellation()
        // The session events end only with the handle: the caller must learn it is no member.
        throw CoordinationError.closed()
    }

    /// Joins whose reply was lost, in one session: any of them may have made the member.
    struct UnsureJoin {
        /// The session the creates were sent in: a member they made belongs to it.
        var session: String
        /// What they wrote: the metadata may change between tries.
        var values: Set<[UInt8]>

        /// Whether `record` is what one of these joins would have made.
        func made(_ record: Record) -> Bool {
            record.isEphemeral && record.ownerSession == session && values.contains(record.value)
        }
    }

    /// Who runs the shared join loop, which says how long it keeps trying.
    enum JoinCaller {
        /// ``join(id:metadata:)``: a failure is thrown unless a create may have landed, and the
        /// tries end with the session that sent it (or once it is out of contact too long).
        case join
        /// ``stayJoined(id:metadata:joined:)``: every failure that may pass is waited out while
        /// the handle has the session; the next session's event joins again.
        case stayJoined

        func waitsOut(anyFailureWhen mayHaveJoined: Bool) -> Bool { self == .stayJoined || mayHaveJoined }

        func keepsTrying(_ current: SessionEvent, in sessionID: String) -> Bool {
            switch self {
            case .join: SequentialQueue.mayStillHold(current, sessionID)
            case .stayJoined: current.sessionID == sessionID
            }
        }
    }

    /// Removes the member that `unsure` may have made (owned by its session, with one of its
    /// values), through store errors until that session ends: nothing another handle made can
    /// match. A later join of the same id on this handle, in that session, with the same
    /// metadata, could (it is refused as the id taken while this member is there).
    private func leave(_ unsure: UnsureJoin, id: String) async {
        await StoreFailure.retryingUntilSessionEnds(in: store, by: unsure.session) {
            let key = try group.child(id)
            guard let existing = try await store.get(key), unsure.made(existing) else { return }
            do {
                try await store.delete(key, ifVersion: existing.version, recursive: false)
            } catch let error as CoordinationError where error.code == .noNode || error.code == .versionConflict {}
        }
    }

    /// Joins in session `sessionID` through failures that may pass (which ones, and how long,
    /// `caller` says); `nil` when that session ended first (for `stayJoined`, the next
    /// session's event joins again). A lost reply is resolved by reading the member: one owned
    /// by `sessionID` holding metadata this call wrote is the one it made.
    /// - Parameters:
    ///   - previous: the member an earlier session's join made, if any.
    ///   - unsure: gets the session and value of each try whose outcome is unknown; `nil` once
    ///     the outcome is known.
    /// - Throws: for `.join`, the last failure when the session ended after a lost reply.
    private func join(
        id: String, metadata: @Sendable () -> [UInt8], in sessionID: String, previous: Member?, unsure: inout UnsureJoin?,
        caller: JoinCaller
    ) async throws -> Member? {
        let key = try group.child(id)
        var sessionID = sessionID
        // Whether an earlier try of this join may have created the member without our hearing
        // of it. Not merely because the session reconnected: a handle that was out of contact
        // before this call made nothing, and a member found then is another call's.
        var mayHaveJoined = false
        var backoff = Backoff()
        // Logs what happens next only once it is known: a plain join whose session ended
        // during the pause said "trying again", then gave up.
        func mayGoOn(after error: any Error) async throws -> Bool {
            try await backoff.pause()
            let context: Logger.Metadata = ["group": "\(group)", "member": "\(id)", "error": "\(error)"]
            if caller.keepsTrying(store.session, in: sessionID) {
                logger.warning("joining the group failed; trying again", metadata: context)
                return true
            }
            if caller == .join {
                logger.warning("joining the group failed; giving up: the session that sent it has ended or is out of contact too long", metadata: context)
                throw error
            }
            logger.debug("joining the group failed; the session ended, joining again in the next one", metadata: context)
            return false
        }
        while true {
            let metadata = metadata()
            do {
                let record = try await store.create(key, value: metadata, mode: .ephemeral)
                unsure = nil
                return Member(id: id, metadata: record.value, joinedRevision: record.createRevision)
            } catch let error as CoordinationError where error.code == .nodeExists {
                // A plain join that cannot have made it, and has no earlier member: another's.
                guard caller == .stayJoined || mayHaveJoined else { throw error }
                // Still there from this session (a reconnect, or a try whose reply was lost), or
                // held by someone else: say so. Which one cannot be told without reading it: a
                // failed read is tried again, not taken for someone else's member.
                let existing: Record?
                do {
                    existing = try await store.get(key)
                } catch where StoreFailure.mayPass(error, store: store) && caller.waitsOut(anyFailureWhen: mayHaveJoined) {
                    guard try await mayGoOn(after: error) else { return nil }
                    continue
                }
                // Gone since the create (its holder left): create again.
                guard let existing else { continue }
                // What a try whose reply was lost made, of this call or of stayJoined's call for
                // an earlier event whose create went out in the session now (see below); not a
                // member of an ended session, about to go.
                if unsure?.made(existing) == true, let owner = existing.ownerSession,
                    owner == sessionID || owner == store.session.sessionID
                {
                    unsure = nil
                    return Member(id: id, metadata: existing.value, joinedRevision: existing.createRevision)
                }
                if let previous, existing.isEphemeral, existing.createRevision == previous.joinedRevision {
                    // The member an earlier join made, whose create landed after its session
                    // ended: in this session it is kept; in the ended one its key is about to
                    // go, so it is made again, surely in this session.
                    if existing.ownerSession == sessionID {
                        unsure = nil
                        return Member(id: id, metadata: existing.value, joinedRevision: existing.createRevision)
                    }
                    do {
                        try await store.delete(key, ifVersion: existing.version, recursive: false)
                    } catch let error as CoordinationError where error.code == .noNode || error.code == .versionConflict {
                    } catch where StoreFailure.mayPass(error, store: store) {
                        try await backoff.pause()
                    }
                    continue
                }
                throw CoordinationError(
                    .nodeExists,
                    "member id \(id) is already taken in group \(group): another member holds it, or a process that held it "
                        + "ended without leaving and its session has not expired yet (its member goes when it does, within "
                        + "that session's TTL); choose another id, or try again once it has gone",
                    key: key)
            } catch where StoreFailure.mayPass(error, store: store) {
                let code = (error as? CoordinationError)?.code
                if code == .connectionLoss || code == .timeout {
                    // The session the create may have landed in is the one reported now, not
                    // always `sessionID`: a create that meets the session's end is written in
                    // the next one, which the store reports before writing there. A join called
                    // between an expiry and that report, tying its lost create to the ended
                    // session, never knew the member the new session got as its own: it gave up
                    // (stayJoined: met it as "the id taken"), and its cleanup, looking for a member
                    // of the ended session, left it listed for as long as the new session lived.
                    let sentIn = store.session.sessionID
                    if unsure?.session != sentIn { unsure = UnsureJoin(session: sentIn, values: []) }
                    unsure?.values.insert(metadata)
                    // A member the ended session made went with it. A plain join goes on in the
                    // session its create went out in; stayJoined joins there at that session's
                    // event (or at a late event of the ended one), knowing the member as its own
                    // through `unsure`.
                    if caller == .join { sessionID = sentIn }
                    mayHaveJoined = true
                }
                guard caller.waitsOut(anyFailureWhen: mayHaveJoined) else { throw error }
                guard try await mayGoOn(after: error) else { return nil }
            }
        }
    }

    /// The live members now, by join order (by id among those that joined at one revision).
    public func members() async throws -> [Member] {
        var result: [Member] = []
        for try await record in store.walk(group) where record.key.parent == group {
            result.append(Member(id: record.key.name, metadata: record.value, joinedRevision: record.createRevision))
        }
        return result.sorted(by: Member.joinOrder)
    }

    /// The group as it changes: the members now, then the whole list again after each change.
    public func watch() -> AsyncThrowingStream<[Member], any Error> {
        let store = store
        let group = group
        return AsyncThrowingStream { continuation in
            let task = Task {
                do {
                    var records: [Key: Record] = [:]
                    var last: [Member]?
                    for try await event in store.watch(group, scope: .subtree) {
                        records.apply(event)
                        let members = records.values.filter { $0.key.parent == group }
                            .map { Member(id: $0.key.name, metadata: $0.value, joinedRevision: $0.createRevision) }
                            .sorted(by: Member.joinOrder)
                        if members != last {
                            last = members
                            continuation.yield(members)
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
}
