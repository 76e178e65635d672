import Coordination
import CoordinationRecipes
import CoordinationTestSupport
import Synchronization
import Testing

@Suite(.serverLoadLimit) struct ReadWriteLockAndSemaphoreTests {
    @Test(arguments: RecipeBackend.all)
    func readersShareAndAQueuedWriterIsNotOvertaken(backend: RecipeBackend) async throws {
        let handles = try Handles(backend)
        defer { Task { await handles.closeAll() } }
        let path = try Key("/rw")
        let lock = ReadWriteLock(store: try await handles.open(), path: path)
        let other = ReadWriteLock(store: try await handles.open(), path: path)
        let readA = try #require(try await lock.acquireRead())
        let readB = try #require(try await other.acquireRead(timeout: .seconds(5)), "readers share")
        let writer = Task { try await lock.acquireWrite() }
        // Wait until the writer is queued behind the two readers (an event: the queue grows to 3).
        try await withDeadline("the writer to queue") {
            var records: [Key: Record] = [:]
            for try await event in other.store.watch(path, scope: .subtree) {
                records.apply(event)
                if records.keys.filter({ $0.parent == path }).count == 3 { return }
            }
        }
        #expect(try await other.acquireRead(timeout: .milliseconds(300)) == nil, "a later reader waits behind the queued writer")
        try await readA.release()
        try await readB.release()
        let write = try #require(try await outcome(of: writer, "the writer to get in once both readers released").get())
        #expect(write.token > readB.token)
        #expect(try await other.acquireRead(timeout: .milliseconds(200)) == nil, "no reader while the writer holds")
        try await write.release()
        #expect(try await other.acquireRead(timeout: .seconds(5)) != nil)
    }

    @Test(arguments: RecipeBackend.all)
    func semaphoreAdmitsAtMostNHolders(backend: RecipeBackend) async throws {
        let handles = try Handles(backend)
        defer { Task { await handles.closeAll() } }
        let path = try Key("/permits")
        let state = Shared((now: 0, most: 0, done: 0))
        let stores = try await (0..<6).asyncMap { _ in try await handles.open() }
        try await withDeadline("six holders to take a permit three times each") {
            try await withThrowingTaskGroup(of: Void.self) { group in
                for store in stores {
                    group.addTask {
                        let semaphore = try Semaphore(store: store, path: path, permits: 3)
                        for _ in 0..<3 {
                            try await semaphore.withPermit { _ in
                                state.withLock { $0.now += 1; $0.most = max($0.most, $0.now) }
                                _ = try await store.children(of: path)
                                state.withLock { $0.now -= 1; $0.done += 1 }
                            }
                        }
                    }
                }
                try await group.waitForAll()
            }
        }
        let final = state.withLock { $0 }
        #expect(final.done == 18)
        #expect(final.most <= 3 && final.most >= 1)
        let store = try await handles.open()
        #expect(throws: CoordinationError.self) { try Semaphore(store: store, path: path, permits: 0) }
    }
}

@Suite(.serverLoadLimit) struct ElectionAndMembershipTests {
    @Test(arguments: RecipeBackend.all)
    func leaderFailsOverWhenItsSessionExpires(backend: RecipeBackend) async throws {
        let handles = try Handles(backend)
        defer { Task { await handles.closeAll() } }
        let path = try Key("/election")
        let first = try await handles.open()
        let second = try await handles.open()
        let observer = LeaderElection(store: try await handles.open(), path: path, identity: "observer")
        let leaders = observer.leaders()
        #expect(try await next(leaders, "the observer's first view") == nil, "no leader yet")

        let (led, ledSignal) = AsyncStream<String>.makeStream()
        let alpha = Task {
            try await LeaderElection(store: first, path: path, identity: "alpha").withLeadership { _ in
                ledSignal.yield("alpha")
                try await Task.sleep(for: .seconds(3600))
            }
        }
        #expect(try await next(led, "alpha to lead") == "alpha")
        let alphaLeader = try #require(try await next(leaders, "the observer to see alpha lead"))
        #expect(alphaLeader.identityString == "alpha")

        // Beta keeps leading until the observer has seen it: a leadership that began and ended
        // between two reads may legitimately be coalesced away (clause 8).
        let (observed, observedSignal) = AsyncStream<Void>.makeStream()
        let beta = Task {
            try await LeaderElection(store: second, path: path, identity: "beta").withLeadership { lease in
                ledSignal.yield("beta")
                for await _ in observed { break }
                return lease.token
            }
        }
        try await backend.expire(first)
        await #expect(throws: RecipeError.self) { try await outcome(of: alpha, "alpha to be told its session expired").get() }
        #expect(try await next(led, "beta to lead after alpha's session expired") == "beta")
        // The observer sees beta lead (possibly after a moment with no leader).
        let seen = try await nextMatching(leaders, "the observer to see beta lead") { $0?.identityString == "beta" }
        observedSignal.yield()
        let betaToken = try await outcome(of: beta, "beta to resign once observed").get()
        #expect(betaToken > alphaLeader.token)
        #expect(seen?.identityString == "beta")
    }

    @Test(arguments: RecipeBackend.all)
    func membershipFollowsJoinsAndExpiries(backend: RecipeBackend) async throws {
        let handles = try Handles(backend)
        defer { Task { await handles.closeAll() } }
        let group = try Key("/workers")
        let a = try await handles.open()
        let b = try await handles.open()
        let observer = Membership(store: try await handles.open(), group: group)
        let views = observer.watch()
        #expect(try await next(views, "the observer's first view") == [])

        try await Membership(store: a, group: group).join(id: "a", metadata: Array("cap=2".utf8))
        #expect(try await next(views, "the observer to see a join").map(\.id) == ["a"])
        let staying = Task { try await Membership(store: b, group: group).stayJoined(id: "b") }
        #expect(try await next(views, "the observer to see b join").map(\.id) == ["a", "b"])
        await #expect(throws: CoordinationError.self) { try await Membership(store: b, group: group).join(id: "a") }

        try await backend.expire(a)
        #expect(try await next(views, "the observer to see a's session end").map(\.id) == ["b"], "a member whose session expired leaves")
        try await backend.expire(b)
        // Ends in a named failure if stayJoined never joins again on the new session.
        _ = try await nextMatching(views, "stayJoined to join again on b's new session") { $0.map(\.id) == ["b"] }
        #expect(try await observer.members().first?.metadata == [])
        staying.cancel()
        _ = try await outcome(of: staying, "the cancelled stayJoined to end")
        #expect(try await next(views, "the observer to see b leave") == [], "cancelling stayJoined leaves")
    }

    /// A closed handle ends the membership (its session goes) and the leadership: both say so,
    /// rather than returning as if cancelled, or campaigning again.
    @Test(arguments: RecipeBackend.all)
    func closingTheStoreEndsStayJoinedAndLeadWithUnavailable(backend: RecipeBackend) async throws {
        let handles = try Handles(backend)
        defer { Task { await handles.closeAll() } }
        let store = try await handles.open()
        let observer = Membership(store: try await handles.open(), group: try Key("/crew"))
        let views = observer.watch()
        #expect(try await next(views, "the observer's first view") == [])
        let staying = Task { try await Membership(store: store, group: try Key("/crew")).stayJoined(id: "m") }
        let (elected, electedSignal) = AsyncStream<Void>.makeStream()
        let leading = Task {
            try await LeaderElection(store: store, path: try Key("/elections/closing"), identity: "m").lead { _ in
                electedSignal.yield()
                try await Task.sleep(for: .seconds(3600))
            }
        }
        #expect(try await next(views, "the observer to see m join").map(\.id) == ["m"])
        try await next(elected, "m to lead")
        await store.close()
        for (task, what) in [(staying, "stayJoined to end with the handle"), (leading, "lead to end with the handle")] {
            await #expect {
                try await outcome(of: task, what).get()
            } throws: { error in
                (error as? CoordinationError)?.code == .unavailable && (error as? CoordinationError)?.message == "the store handle is closed"
            }
        }
    }

    /// `update` changes only the membership it was given: not one that has ended, nor a later
    /// member under the same id; and `stayJoined` joins again with the metadata said last.
    @Test(arguments: RecipeBackend.all)
    func membersUpdateTheirMetadata(backend: RecipeBackend) async throws {
        let handles = try Handles(backend)
        defer { Task { await handles.closeAll() } }
        let group = try Key("/workers")
        let a = try await handles.open()
        let observer = Membership(store: try await handles.open(), group: group)
        let first = try await Membership(store: a, group: group).join(id: "a", metadata: [1])
        let updated = try await Membership(store: a, group: group).update(first, metadata: [2])
        #expect(updated.metadata == [2] && updated.joinedRevision == first.joinedRevision)
        #expect(try await observer.members().map(\.metadata) == [[2]])
        try await Membership(store: a, group: group).leave(id: "a")
        await #expect(throws: CoordinationError.self, "it has left") {
            try await Membership(store: a, group: group).update(first, metadata: [3])
        }
        try await Membership(store: a, group: group).join(id: "a", metadata: [4])
        await #expect(throws: CoordinationError.self, "a later member under the same id") {
            try await Membership(store: a, group: group).update(first, metadata: [5])
        }
        #expect(try await observer.members().map(\.metadata) == [[4]])
        try await Membership(store: a, group: group).leave(id: "a")

        let said = Mutex<[UInt8]>([6])
        let b = try await handles.open()
        let views = observer.watch()
        #expect(try await next(views, "the observer's first view") == [])
        let staying = Task { try await Membership(store: b, group: group).stayJoined(id: "b", metadata: { said.withLock { $0 } }) }
        #expect(try await next(views, "the observer to see b join").map(\.metadata) == [[6]])
        said.withLock { $0 = [7] }
        try await backend.expire(b)
        let rejoinedWith = try await nextMatching(views, "stayJoined to join again on b's new session") { $0.first != nil }.first?.metadata
        #expect(rejoinedWith == [7], "joined again with what it said last")
        staying.cancel()
        _ = try await outcome(of: staying, "the cancelled stayJoined to end")
    }

    /// A long-lived candidate rides out lost contact while campaigning (a scheduler worker
    /// once died of a connection loss listing the election's candidates).
    @Test(arguments: RecipeBackend.all)
    func leadRidesOutLostContactWhileCampaigning(backend: RecipeBackend) async throws {
        let handles = try Handles(backend)
        defer { Task { await handles.closeAll() } }
        let path = try Key("/election")
        let flaky = FlakyStore(try await handles.open(), listings: 3)
        let (led, ledSignal) = AsyncStream<Int64>.makeStream()
        let leading = Task {
            try await LeaderElection(store: flaky, path: path, identity: "alpha").lead { lease in
                ledSignal.yield(lease.token)
                try await Task.sleep(for: .seconds(3600))
            }
        }
        let token = try await withDeadline("alpha to lead") {
            var ledIterator = led.makeAsyncIterator()
            return try #require(await ledIterator.next())
        }
        #expect(flaky.failures == 3, "listing the candidates failed three times first")
        let leader = try await LeaderElection(store: try await handles.open(), path: path, identity: "observer").currentLeader()
        #expect(leader?.identityString == "alpha" && leader?.token == token)
        #expect(try await flaky.children(of: path).count == 1, "one candidate entry, none left by the failed tries")
        leading.cancel()
        _ = try await outcome(of: leading, "the cancelled lead to end")
    }

    /// A second process asking for a live member's id is refused, and leaves that member alone
    /// (it used to delete the member's key on the way out).
    @Test(arguments: RecipeBackend.all)
    func aRefusedDuplicateLeavesTheLiveMemberAlone(backend: RecipeBackend) async throws {
        let handles = try Handles(backend)
        defer { Task { await handles.closeAll() } }
        let group = try Key("/workers")
        let observer = Membership(store: try await handles.open(), group: group)
        let views = observer.watch()
        #expect(try await next(views, "the observer's first view") == [])
        let first = try await handles.open()
        let staying = Task { try await Membership(store: first, group: group).stayJoined(id: "dup", metadata: [1]) }
        #expect(try await next(views, "the observer to see dup join").map(\.id) == ["dup"])
        let joinedAt = try #require(try await observer.members().first?.joinedRevision)
        let second = try await handles.open()
        await #expect(throws: CoordinationError.self) {
            try await Membership(store: second, group: group).stayJoined(id: "dup", metadata: [2])
        }
        let members = try await observer.members()
        #expect(members.map(\.id) == ["dup"] && members.first?.joinedRevision == joinedAt, "the first member is still there, unchanged")
        #expect(members.first?.metadata == [1])
        let firstMember = try #require(members.first)
        staying.cancel()
        _ = try await outcome(of: staying, "the cancelled stayJoined to end")
        #expect(try await next(views, "the observer to see the first dup leave") == [], "cancelling the first member's stayJoined leaves")
        // Nor does leaving with a membership that has ended take a later member under the same id.
        let later = try await Membership(store: second, group: group).join(id: "dup", metadata: [2])
        #expect(try await next(views, "the observer to see the later dup join").map(\.id) == ["dup"])
        try await Membership(store: first, group: group).leave(firstMember)
        #expect(try await observer.members().map(\.joinedRevision) == [later.joinedRevision])
        try await Membership(store: second, group: group).leave(later)
        #expect(try await next(views, "the observer to see the later dup leave") == [])
    }

    /// A member starting on a handle that was out of contact earlier (its session reconnected)
    /// took another live member with the same id and metadata for one its own join had made:
    /// it stayed "joined" as that member, and on leaving deleted it.
    @Test(arguments: RecipeBackend.all)
    func aDuplicateIsRefusedOnAReconnectedHandle(backend: RecipeBackend) async throws {
        let handles = try Handles(backend)
        defer { Task { await handles.closeAll() } }
        let group = try Key("/workers")
        let observer = Membership(store: try await handles.open(), group: group)
        let other = try await Membership(store: try await handles.open(), group: group).join(id: "dup", metadata: [1])
        let suspendable = SuspendableStore(try await handles.open())
        suspendable.suspend(lastContact: .now)
        suspendable.resume()
        #expect(suspendable.session.state == .reconnected)
        await #expect {
            try await withDeadline("the duplicate id to be refused", limit: .seconds(10)) {
                try await Membership(store: suspendable, group: group).stayJoined(id: "dup", metadata: [1])
            }
        } throws: { error in
            (error as? CoordinationError)?.code == .nodeExists && (error as? CoordinationError)?.message.contains("already taken") == true
        }
        #expect(try await observer.members() == [other], "the other member is still there, untouched")
    }

    /// A member whose join was applied but whose reply was lost finds itself joined on the next
    /// try instead of taking its own entry for another member's.
    @Test(arguments: RecipeBackend.all)
    func stayJoinedRidesOutALostReply(backend: RecipeBackend) async throws {
        let handles = try Handles(backend)
        defer { Task { await handles.closeAll() } }
        let group = try Key("/workers")
        let observer = Membership(store: try await handles.open(), group: group)
        let views = observer.watch()
        #expect(try await next(views, "the observer's first view") == [])
        let flaky = FlakyStore(try await handles.open(), lostCreateReplies: 1)
        let staying = Task { try await Membership(store: flaky, group: group).stayJoined(id: "m", metadata: [1]) }
        #expect(try await next(views, "the observer to see m join").map(\.id) == ["m"])
        // Joined for good: a duplicate id is still refused, and the member stays until cancelled.
        await #expect(throws: CoordinationError.self) {
            try await Membership(store: try await handles.open(), group: group).join(id: "m", metadata: [1])
        }
        staying.cancel()
        await #expect(throws: CancellationError.self) { try await outcome(of: staying, "the cancelled stayJoined to end").get() }
        #expect(flaky.failures == 1, "the first join's reply was lost")
        #expect(try await next(views, "the observer to see m leave") == [], "cancelling stayJoined leaves")
    }

    /// A join whose reply was lost, and whose read of the member it then found failed too: it
    /// reads again instead of calling its own member another's ("member id m is already taken")
    /// and giving up, as it did when that read failed.
    @Test(arguments: RecipeBackend.all)
    func stayJoinedRidesOutALostReplyAndALostRead(backend: RecipeBackend) async throws {
        let handles = try Handles(backend)
        defer { Task { await handles.closeAll() } }
        let group = try Key("/workers")
        let observer = Membership(store: try await handles.open(), group: group)
        let views = observer.watch()
        #expect(try await next(views, "the observer's first view") == [])
        let flaky = FlakyStore(try await handles.open(), lostCreateReplies: 1, reads: 1)
        let joins = AsyncStream<Member>.makeStream()
        let staying = Task {
            // Ended without a join, it ends the joins too: the wait below sees it at once.
            defer { joins.continuation.finish() }
            try await Membership(store: flaky, group: group).stayJoined(id: "m", metadata: [1]) { member, _ in
                joins.continuation.yield(member)
            }
        }
        let joined = try await withDeadline("stayJoined to join") {
            var iterator = joins.stream.makeAsyncIterator()
            return await iterator.next()
        }
        if joined == nil { Issue.record("stayJoined ended without joining: \(await staying.result)") }
        let member = try #require(joined)
        #expect(flaky.failures == 2, "the create's reply and the first read were lost")
        #expect(try await observer.members() == [member], "joined once, as the member it made")
        staying.cancel()
        await #expect(throws: CancellationError.self) { try await outcome(of: staying, "the cancelled stayJoined to end").get() }
        // Ends in a named failure if the member never leaves.
        _ = try await nextMatching(views, "the observer to see m leave once stayJoined was cancelled") { $0.isEmpty }
    }

    /// A cancelled member leaves through a failed delete: one failure left it listed for as long
    /// as its handle stayed open.
    @Test(arguments: RecipeBackend.all)
    func cancelledStayJoinedLeavesThroughAFailedDelete(backend: RecipeBackend) async throws {
        let handles = try Handles(backend)
        defer { Task { await handles.closeAll() } }
        let group = try Key("/workers")
        let observer = Membership(store: try await handles.open(), group: group)
        let views = observer.watch()
        #expect(try await next(views, "the observer's first view") == [])
        let flaky = FlakyStore(try await handles.open(), deletes: 2)
        let staying = Task { try await Membership(store: flaky, group: group).stayJoined(id: "m", metadata: [1]) }
        #expect(try await next(views, "the observer to see m join").map(\.id) == ["m"])
        staying.cancel()
        await #expect(throws: CancellationError.self) { try await outcome(of: staying, "the cancelled stayJoined to end").get() }
        #expect(flaky.failures == 2, "the first two deletes failed")
        #expect(try await observer.members() == [], "left, though the handle is still open")
    }

    /// A join whose session ends while its create is on its way, the create landing in the next
    /// session: the next session's join finds the member it made, not another member's, and
    /// stays joined instead of calling the id taken.
    @Test(arguments: RecipeBackend.all)
    func stayJoinedKeepsAMemberMadeAcrossAnExpiry(backend: RecipeBackend) async throws {
        let handles = try Handles(backend)
        defer { Task { await handles.closeAll() } }
        let group = try Key("/workers")
        let base = try await handles.open()
        let late = CreateAfterExpiry(base, expire: { try await backend.expire(base) })
        let joins = AsyncStream<String>.makeStream()
        let staying = Task {
            try await Membership(store: late, group: group).stayJoined(id: "m", metadata: [1]) { _, session in
                joins.continuation.yield(session)
            }
        }
        defer { staying.cancel() }
        let rejoined = try await withDeadline("a join in the session after the expiry") {
            for await session in joins.stream where session == late.laterSession.withLock({ $0 }) { return true }
            return false
        }
        #expect(rejoined)
        let member = try #require(try await base.get(try group.child("m")))
        #expect(member.isEphemeral && member.value == [1])
    }
}

/// A store whose first create ends its session before it is sent and waits for the next one,
/// as a create delayed on the wire lands after its session's end, in the next session.
final class CreateAfterExpiry: ForwardingStore {
    let base: any CoordinationStore
    private let expire: @Sendable () async throws -> Void
    private let used = Atomic<Bool>(false)
    /// The session the delayed create landed in.
    let laterSession = Mutex<String?>(nil)

    init(_ base: any CoordinationStore, expire: @escaping @Sendable () async throws -> Void) {
        self.base = base
        self.expire = expire
    }

    func create(_ key: Key, value: [UInt8], mode: CreateMode) async throws -> Record {
        guard !used.exchange(true, ordering: .relaxed) else { return try await base.create(key, value: value, mode: mode) }
        let ended = base.session.sessionID
        var events = base.sessionEvents().makeAsyncIterator()
        try await expire()
        while let event = await events.next(), !(event.state == .connected && event.sessionID != ended) {}
        laterSession.withLock { $0 = base.session.sessionID }
        return try await base.create(key, value: value, mode: mode)
    }
}

@Suite(.serverLoadLimit) struct ConfigBarrierCounterTests {
    struct Settings: Codable, Sendable, Equatable {
        var rate: Int
        var name: String
    }

    @Test(arguments: RecipeBackend.all)
    func configWatchKeepsTheLastGoodValue(backend: RecipeBackend) async throws {
        let handles = try Handles(backend)
        defer { Task { await handles.closeAll() } }
        let key = try Key("/config/app")
        let store = try await handles.open()
        let config = ConfigWatch(store: store, key: key, as: Settings.self)
        let values = config.values()
        #expect(try await next(values, "the first value") == nil)
        try await config.publish(Settings(rate: 1, name: "one"))
        #expect(try await next(values, "the value published") == Settings(rate: 1, name: "one"))
        _ = try await store.set(key, string: "{not json")
        try await config.publish(Settings(rate: 2, name: "two"))
        #expect(try await next(values, "the good value published after a bad one") == Settings(rate: 2, name: "two"), "the bad value was skipped")
        #expect(try await config.current() == Settings(rate: 2, name: "two"))
    }

    @Test(arguments: RecipeBackend.all)
    func barriersAndCounter(backend: RecipeBackend) async throws {
        let handles = try Handles(backend)
        defer { Task { await handles.closeAll() } }
        let store = try await handles.open()
        let barrier = Barrier(store: store, key: try Key("/gate"))
        try await barrier.raise()
        let waiter = Task { try await Barrier(store: try await handles.open(), key: try Key("/gate")).wait() }
        try await barrier.lower()
        try await outcome(of: waiter, "the barrier waiter once the barrier was lowered").get()

        var participants: [any CoordinationStore] = []
        for _ in 0..<3 { participants.append(try await handles.open()) }
        try await withDeadline("three participants to enter and leave") { [participants] in
            try await withThrowingTaskGroup(of: Void.self) { group in
                for (id, participant) in zip(["x", "y", "z"], participants) {
                    group.addTask {
                        let double = try DoubleBarrier(store: participant, path: try Key("/double"), count: 3)
                        try await double.enter(id: id)
                        try await double.leave(id: id)
                    }
                }
                try await group.waitForAll()
            }
        }

        let counterKey = try Key("/counter")
        try await withThrowingTaskGroup(of: Void.self) { group in
            for _ in 0..<4 {
                let writer = try await handles.open()
                group.addTask {
                    for _ in 0..<25 { try await Counter(store: writer, key: counterKey).add(1) }
                }
            }
            try await group.waitForAll()
        }
        #expect(try await Counter(store: store, key: counterKey).value() == 100)
    }
}

