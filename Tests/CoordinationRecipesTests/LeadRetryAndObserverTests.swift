import Coordination
import CoordinationRecipes
import CoordinationTestSupport
import Testing

/// `lead` retried after a lost reply, and what observers see as leaders come and go.
extension ElectionTests {
    /// `lead` whose create's reply was lost finds its entry: one entry, one leader, seen by
    /// observers; a second candidate waits behind it and leads once it is cancelled.
    @Test(arguments: RecipeBackend.all)
    func leadWhoseCreateReplyWasLostLeadsWithItsOneEntry(backend: RecipeBackend) async throws {
        let handles = try Handles(backend)
        defer { Task { await handles.closeAll() } }
        let path = try Key("/election")
        let observer = try await handles.open()
        let flaky = FlakyStore(try await handles.open(), lostCreateReplies: 1)
        let leading = Leading()
        let (a, aLeads) = leadingUntilCancelled(LeaderElection(store: flaky, path: path, identity: "a"), leading)
        let first = try await next(aLeads, "a to lead")
        #expect(flaky.failures == 1, "the create's reply was lost")
        #expect(try await candidates(observer, path) == [first.key.name], "one entry")
        let (b, bLeads) = leadingUntilCancelled(LeaderElection(store: try await handles.open(), path: path, identity: "b"), leading)
        try await waitForEntries(observer, path, count: 2)
        let leader = try await LeaderElection(store: observer, path: path, identity: "o").currentLeader()
        #expect(leader?.key == first.key && leader?.identityString == "a")
        a.cancel()
        _ = try await outcome(of: a, "a's cancelled lead to end")
        let second = try await next(bLeads, "b to lead")
        #expect(second.token > first.token)
        #expect(leading.most == 1, "never two leaders")
        #expect(try await candidates(observer, path) == [second.key.name])
        b.cancel()
        _ = try await outcome(of: b, "b's cancelled lead to end")
        #expect(try await candidates(observer, path).isEmpty)
    }

    /// Observers (`leaders()` and `currentLeader()`) see the next candidate lead once the
    /// leader's handle is closed, and no leader once that one's session ends (killed).
    @Test(arguments: RecipeBackend.all)
    func observersFollowALeaderClosedThenKilled(backend: RecipeBackend) async throws {
        let handles = try Handles(backend)
        defer { Task { await handles.closeAll() } }
        let path = try Key("/election")
        let observer = LeaderElection(store: try await handles.open(), path: path, identity: "o")
        let leaders = observer.leaders()
        #expect(try await next(leaders, "the observer's first view") == nil, "no leader yet")
        let aStore = try await handles.open()
        let a = try #require(try await LeaderElection(store: aStore, path: path, identity: "a").campaign())
        #expect(try await next(leaders, "the observer to see a lead")?.key == a.key)

        let bStore = try await handles.open()
        let campaigning = Task { try await LeaderElection(store: bStore, path: path, identity: "b").campaign() }
        try await waitForEntries(observer.store, path, count: 2)
        await aStore.close()
        let b = try #require(try await outcome(of: campaigning, "b to lead").get())
        let seen = try await next(leaders, "the observer to see b lead once a's handle closed")
        #expect(seen?.key == b.key && seen?.identityString == "b" && seen?.token == b.token, "straight from a to b")
        #expect(try await observer.currentLeader() == seen)

        try await backend.expire(bStore)
        #expect(try await next(leaders, "the observer to see b's session end") == nil, "no leader once b's session ended")
        #expect(try await observer.currentLeader() == nil)
    }
}
