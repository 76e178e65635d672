import Coordination
import CoordinationRecipes
import CoordinationTestSupport
import Testing

/// A join made between a session's expiry and the new session's report: its create is written in
/// the new session (the store waits for it), and its reply is lost. The member is the new
/// session's, not the ended one's: tied to the ended session, the join gave up (stayJoined met
/// its own member as "the id taken"), and the cleanup, looking for a member of the ended
/// session, left it listed for as long as the new session lived.
@Suite(.serverLoadLimit) struct MembershipExpiryWindowTests {
    @Test(arguments: RecipeBackend.all)
    func aJoinInTheExpiryWindowWhoseReplyIsLostFindsItsMember(backend: RecipeBackend) async throws {
        let handles = try Handles(backend)
        defer { Task { await handles.closeAll() } }
        let group = try Key("/workers")
        let observer = Membership(store: try await handles.open(), group: group)
        let base = try await handles.open()
        let ended = base.session
        try await backend.expire(base)
        let store = FlakyStore(LateSessionStore(base, stale: ended), lostCreateReplies: 1)

        let joining = try await outcome(of: Task { try await Membership(store: store, group: group).join(id: "m", metadata: [1]) }, "the join")
        #expect(store.failures == 1, "the create's reply was lost")
        let members = try await observer.members()
        let member = try #require(try? joining.get(), "the join found the member its create made (\(joining)); members: \(members)")
        #expect(members == [member], "the member returned is the one listed")
        #expect(try await observer.store.get(try group.child("m"))?.ownerSession == base.session.sessionID, "in the new session")
        try await Membership(store: base, group: group).leave(member)
        #expect(try await observer.members() == [])
    }

    @Test(arguments: RecipeBackend.all)
    func aStayJoinedInTheExpiryWindowWhoseReplyIsLostKeepsItsMember(backend: RecipeBackend) async throws {
        let handles = try Handles(backend)
        defer { Task { await handles.closeAll() } }
        let group = try Key("/workers")
        let observer = Membership(store: try await handles.open(), group: group)
        let base = try await handles.open()
        let ended = base.session
        try await backend.expire(base)
        let store = FlakyStore(LateSessionStore(StaleEventsStore(base, stale: ended), stale: ended), lostCreateReplies: 1)

        // 1 once joined, or once stayJoined has ended (refusing the id as taken by its own member).
        let joinedOrEnded = Broadcast<Int>(0)
        let staying = Task {
            defer { joinedOrEnded.send(1) }
            try await Membership(store: store, group: group).stayJoined(id: "m", metadata: [1]) { _, _ in joinedOrEnded.send(1) }
        }
        try await withDeadline("the member to join", limit: .seconds(20)) { await joinedOrEnded.reach(1) }
        #expect(store.failures == 1, "the create's reply was lost")
        #expect(try await observer.members().map(\.id) == ["m"])
        staying.cancel()
        await #expect(throws: CancellationError.self) { try await outcome(of: staying, "the cancelled stayJoined to end").get() }
        #expect(try await observer.members() == [], "stayJoined's member left with it")
    }
}

/// Reports the session `stale` first (as connected), then the base's own events: a handle whose
/// session has ended and whose next one is not reported yet.
final class StaleEventsStore: ForwardingStore {
    let base: any CoordinationStore
    let stale: SessionEvent

    init(_ base: any CoordinationStore, stale: SessionEvent) {
        self.base = base
        self.stale = stale
    }

    func sessionEvents() -> AsyncStream<SessionEvent> {
        let events = base.sessionEvents()
        let stale = stale
        return AsyncStream { continuation in
            continuation.yield(stale)
            let task = Task {
                for await event in events { continuation.yield(event) }
                continuation.finish()
            }
            continuation.onTermination = { _ in task.cancel() }
        }
    }
}
