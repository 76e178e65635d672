import Coordination
import CoordinationRecipes
import CoordinationTestSupport
import Testing

/// What `leaders()` says when its store watch resyncs (a reconnect, an etcd compaction: a fresh
/// snapshot after a gap) and when one leadership follows another of the same identity.
@Suite(.serverLoadLimit) struct LeaderObserverResyncTests {
    /// A leader that resigned while the observer's watch was cut off is not reported after the
    /// resync: the snapshot replaces what the observer knew, and it says the leader now (then no
    /// leader, once that one resigns in a gap too).
    @Test(arguments: RecipeBackend.all)
    func aResyncAfterAGapSaysTheLeaderNow(backend: RecipeBackend) async throws {
        let handles = try Handles(backend)
        defer { Task { await handles.closeAll() } }
        let path = try Key("/election")
        let plain = try await handles.open()
        let gappy = ResyncingStore(try await handles.open())
        let leaders = LeaderElection(store: gappy, path: path, identity: "o").leaders()
        #expect(try await next(leaders, "the first report") == nil, "no leader yet")

        let a = try #require(try await LeaderElection(store: try await handles.open(), path: path, identity: "a").campaign())
        #expect(try await next(leaders, "a to be reported")?.key == a.key)
        let bStore = try await handles.open()
        let campaigning = Task { try await LeaderElection(store: bStore, path: path, identity: "b").campaign() }
        try await waitForEntries(plain, path, count: 2)

        gappy.detach()
        try await a.release()
        let b = try #require(try await outcome(of: campaigning, "b to lead").get())
        gappy.reattach()
        let seen = try await next(leaders, "the leader after the resync")
        #expect(seen?.key == b.key && seen?.identityString == "b" && seen?.token == b.token, "b, not a that resigned in the gap")

        gappy.detach()
        try await b.release()
        try await waitForEntries(plain, path, count: 0)
        gappy.reattach()
        #expect(try await next(leaders, "no leader after the second resync") == nil, "b resigned in the gap")
    }

    /// A leadership that follows another of the same identity (a restarted process, two workers
    /// that campaign with one name) is a change: a new entry and a new fencing token.
    @Test(arguments: RecipeBackend.all)
    func aNewLeadershipOfTheSameIdentityIsReported(backend: RecipeBackend) async throws {
        let handles = try Handles(backend)
        defer { Task { await handles.closeAll() } }
        let path = try Key("/election")
        let plain = try await handles.open()
        let leaders = LeaderElection(store: plain, path: path, identity: "o").leaders()
        #expect(try await next(leaders, "the first report") == nil, "no leader yet")

        let first = try #require(try await LeaderElection(store: try await handles.open(), path: path, identity: "worker").campaign())
        #expect(try await next(leaders, "the first leadership")?.token == first.token)
        let secondStore = try await handles.open()
        let campaigning = Task { try await LeaderElection(store: secondStore, path: path, identity: "worker").campaign() }
        try await waitForEntries(plain, path, count: 2)
        try await first.release()
        let second = try #require(try await outcome(of: campaigning, "the second to lead").get())
        let seen = try await next(leaders, "the second leadership")
        #expect(seen?.key == second.key && seen?.token == second.token && seen?.identityString == "worker")
        #expect(second.token > first.token)
        try await second.release()
        #expect(try await next(leaders, "no leader") == nil)
    }
}
