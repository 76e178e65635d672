import Coordination
import CoordinationRecipes
import CoordinationTestSupport
import Testing

/// A lock-like recipe that gave up during an outage longer than its session's safe window, in a
/// session the server kept after all (a ZooKeeper server restored from its snapshot, an etcd
/// leader change, renew sessions), is not left queued behind the entry it gave up.
@Suite(.serverLoadLimit) struct OutageRetryTests {
    /// The holder gives up at once and its delete fails (cut off); once contact comes back in
    /// the same session, the entry goes, and a retry on the same handle gets in. It used to wait
    /// behind its own entry for as long as the session lived.
    @Test(arguments: RecipeBackend.all, LockLike.allCases)
    func aRetryAfterALongOutageIsNotQueuedBehindTheEntryGivenUp(backend: RecipeBackend, kind: LockLike) async throws {
        let handles = try Handles(backend)
        defer { Task { await handles.closeAll() } }
        let path = try Key("/outage")
        let observer = try await handles.open()
        let suspendable = SuspendableStore(try await handles.open(), failsCallsWhileSuspended: true)
        let (entered, enteredSignal) = AsyncStream<Void>.makeStream()
        let holder = Task {
            try await kind.with(suspendable, path) { _ in
                enteredSignal.yield()
                try await Task.sleep(for: .seconds(3600))
            }
        }
        try await next(entered, "the holder to enter")
        // Out of contact for longer than the session can last, as far as the handle can tell.
        suspendable.suspend(lastContact: .now - suspendable.base.session.ttl * 3)
        let ended = try await outcome(of: holder, "the holder to give up")
        #expect { try ended.get() } throws: { isSessionLost($0) }
        let left = try await observer.children(of: path)
        #expect(left.count == 1, "the server kept the session, and the entry with it")

        suspendable.resume()
        let again = try #require(
            try await kind.acquire(suspendable, path, timeout: .seconds(10)), "the retry on the same handle got in")
        #expect(!left.contains(again.key.name), "a new entry")
        // A reader gets in beside the old entry (readers share): the old one goes just after.
        try await waitForEntries(observer, path, count: 1)
        #expect(try await observer.children(of: path) == [again.key.name], "the entry given up is gone")
        try await again.release()
    }

    /// The same for a waiter that gave up (cancelled) during such an outage: its entry goes once
    /// contact is back, so neither the others nor its own retry wait behind it.
    @Test(arguments: RecipeBackend.all, LockLike.allCases)
    func aWaiterThatGaveUpInALongOutageLeavesOnceBack(backend: RecipeBackend, kind: LockLike) async throws {
        let handles = try Handles(backend)
        defer { Task { await handles.closeAll() } }
        let path = try Key("/outage-wait")
        let observer = try await handles.open()
        let held = try #require(try await kind.rival(observer, path))
        let suspendable = SuspendableStore(try await handles.open(), failsCallsWhileSuspended: true)
        let waiting = Task { try await kind.acquire(suspendable, path) }
        try await waitForEntries(observer, path, count: 2)
        // Waiting, not still listing the queue after its join: a listing cut off by the
        // suspension would end it with the lost contact rather than the cancellation.
        try await withDeadline("the waiter to wait") { await suspendable.watches.reach(1) }
        suspendable.suspend(lastContact: .now - suspendable.base.session.ttl * 3)
        waiting.cancel()
        await #expect(throws: CancellationError.self) { try await outcome(of: waiting, "the cancelled waiter to end").get() }
        #expect(try await observer.children(of: path).count == 2, "the server kept the session, and the entry with it")

        suspendable.resume()
        try await waitForEntries(observer, path, count: 1)
        #expect(try await observer.children(of: path) == [held.key.name], "only the holder's entry is left")
        try await held.release()
        let again = try #require(try await kind.acquire(suspendable, path, timeout: .seconds(10)), "the retry got in")
        #expect(again.token > held.token)
        try await again.release()
    }

    /// A double barrier participant that gave up entering during such an outage removes its
    /// member once contact is back: it used to stay, counted in the group, and the same
    /// participant entering again was refused (`nodeExists`) for as long as the session lived.
    @Test(arguments: RecipeBackend.all)
    func aParticipantThatGaveUpEnteringInALongOutageLeavesOnceBack(backend: RecipeBackend) async throws {
        let handles = try Handles(backend)
        defer { Task { await handles.closeAll() } }
        let path = try Key("/outage-double")
        let members = try path.child("members")
        let observer = try await handles.open()
        let suspendable = SuspendableStore(try await handles.open(), failsCallsWhileSuspended: true)
        let entering = Task { try await DoubleBarrier(store: suspendable, path: path, count: 2).enter(id: "a") }
        try await waitForEntries(observer, members, count: 1)
        suspendable.suspend(lastContact: .now - suspendable.base.session.ttl * 3)
        entering.cancel()
        await #expect(throws: CancellationError.self) { try await outcome(of: entering, "the cancelled enter to end").get() }
        #expect(try await observer.children(of: members) == ["a"], "the server kept the session, and the member with it")

        suspendable.resume()
        try await waitForEntries(observer, members, count: 0)
        try await withDeadline("both to enter") {
            let again = Task { try await DoubleBarrier(store: suspendable, path: path, count: 2).enter(id: "a") }
            try await DoubleBarrier(store: try await handles.open(), path: path, count: 2).enter(id: "b")
            try await outcome(of: again, "the participant to enter again").get()
        }
    }

    /// A member whose `stayJoined` was cancelled during such an outage leaves once contact is
    /// back: it used to stay listed, and joining again with its id was refused ("already
    /// taken"), for as long as the session lived.
    @Test(arguments: RecipeBackend.all)
    func aMemberGivenUpInALongOutageLeavesOnceBack(backend: RecipeBackend) async throws {
        let handles = try Handles(backend)
        defer { Task { await handles.closeAll() } }
        let group = try Key("/outage-members")
        let observer = try await handles.open()
        let suspendable = SuspendableStore(try await handles.open(), failsCallsWhileSuspended: true)
        let membership = Membership(store: suspendable, group: group)
        let (joins, joinsSignal) = AsyncStream<Member>.makeStream()
        let staying = Task { try await membership.stayJoined(id: "m", metadata: [1]) { member, _ in joinsSignal.yield(member) } }
        let first = try await next(joins, "the member to join")
        suspendable.suspend(lastContact: .now - suspendable.base.session.ttl * 3)
        staying.cancel()
        await #expect(throws: CancellationError.self) { try await outcome(of: staying, "the cancelled stayJoined to end").get() }
        #expect(try await observer.children(of: group) == ["m"], "the server kept the session, and the member with it")

        suspendable.resume()
        try await waitForEntries(observer, group, count: 0)
        let (rejoins, rejoinsSignal) = AsyncStream<Member>.makeStream()
        let rejoining = Task {
            try await membership.stayJoined(id: "m", metadata: [2]) { member, _ in rejoinsSignal.yield(member) }
        }
        let second = try await next(rejoins, "the member to join again on the same handle")
        #expect(second.joinedRevision > first.joinedRevision && second.metadata == [2])
        rejoining.cancel()
        await #expect(throws: CancellationError.self) { try await outcome(of: rejoining, "the cancelled second stayJoined to end").get() }
        #expect(try await observer.children(of: group).isEmpty)
    }

    /// A plain `join` whose create landed but whose reply was lost as contact went, for longer
    /// than the session can last, fails (its member cannot be looked for); the member goes once
    /// contact is back. Only a cancelled join removed it: this one left it listed, and its id
    /// refused to every join ("already taken"), for as long as the session lived.
    @Test(arguments: RecipeBackend.all)
    func aJoinWhoseReplyWasLostInALongOutageLeavesOnceBack(backend: RecipeBackend) async throws {
        let handles = try Handles(backend)
        defer { Task { await handles.closeAll() } }
        let group = try Key("/outage-members")
        let observer = try await handles.open()
        let outage = SuspendableStore(try await handles.open(), failsCallsWhileSuspended: true)
        let cutOff = CutOffAfterCreateStore(outage, outage: outage.base.session.ttl * 3)
        let membership = Membership(store: cutOff, group: group)
        await #expect {
            try await membership.join(id: "m", metadata: [1])
        } throws: { ($0 as? CoordinationError)?.code == .connectionLoss }
        #expect(try await observer.children(of: group) == ["m"], "the create landed, and the server kept the session")

        outage.resume()
        try await waitForEntries(observer, group, count: 0)
        let again = try await membership.join(id: "m", metadata: [2])
        #expect(again.metadata == [2], "the same handle joins again under the id")
        try await membership.leave(again)
        #expect(try await observer.children(of: group).isEmpty)
    }

    /// That late removal takes only the member given up: one made under the same id meanwhile
    /// (the member removed by hand and another process joined, with the same metadata and at
    /// the same version) is left alone, as the member's creation revision tells.
    @Test(arguments: RecipeBackend.all)
    func aMemberRemovedOnceBackLeavesALaterMemberUnderItsIdAlone(backend: RecipeBackend) async throws {
        let handles = try Handles(backend)
        defer { Task { await handles.closeAll() } }
        let group = try Key("/outage-members")
        let observer = try await handles.open()
        let suspendable = SuspendableStore(try await handles.open(), failsCallsWhileSuspended: true)
        let (joins, joinsSignal) = AsyncStream<Member>.makeStream()
        let staying = Task {
            try await Membership(store: suspendable, group: group).stayJoined(id: "m", metadata: [1]) { member, _ in
                joinsSignal.yield(member)
            }
        }
        let first = try await next(joins, "the member to join")
        let subscribed = suspendable.subscriptions.current
        suspendable.suspend(lastContact: .now - suspendable.base.session.ttl * 3)
        staying.cancel()
        await #expect(throws: CancellationError.self) { try await outcome(of: staying, "the cancelled stayJoined to end").get() }
        // The removal given up waits for contact: a session stream of its own.
        try await withDeadline("the removal to wait for contact") { await suspendable.subscriptions.reach(subscribed + 1) }

        try await observer.delete(try group.child("m"))
        let later = try await Membership(store: try await handles.open(), group: group).join(id: "m", metadata: [1])
        #expect(later.joinedRevision > first.joinedRevision)
        suspendable.resume()
        try await withDeadline("the removal to be done") {
            for await open in suspendable.openSubscriptions.subscribe() where open == 0 { return }
        }
        #expect(try await Membership(store: observer, group: group).members() == [later], "the later member is still there")
    }
}
