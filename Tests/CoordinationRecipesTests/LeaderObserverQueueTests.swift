import Coordination
import CoordinationRecipes
import CoordinationTestSupport
import Testing

@Suite(.serverLoadLimit) struct LeaderObserverQueueTests {
    /// `leaders()` names the first candidate in line, whoever queued behind it, as
    /// `currentLeader()` does: candidates waiting behind the leader are not leaders.
    @Test(arguments: RecipeBackend.all)
    func observersNameTheFirstInLineNotALaterCandidate(backend: RecipeBackend) async throws {
        let handles = try Handles(backend)
        defer { Task { await handles.closeAll() } }
        let path = try Key("/election-queue")
        let a = try #require(try await LeaderElection(store: try await handles.open(), path: path, identity: "a").campaign())
        let bStore = try await handles.open()
        let campaigning = Task { try await LeaderElection(store: bStore, path: path, identity: "b").campaign() }
        let observer = LeaderElection(store: try await handles.open(), path: path, identity: "o")
        try await waitForEntries(observer.store, path, count: 2, unlessEnded: campaigning, "b's campaign (a's entry is \(a.key.name))")

        let leaders = observer.leaders()
        let first = try await next(leaders, "the observer's first view")
        #expect(first?.identityString == "a" && first?.token == a.token, "b only waits behind a")
        #expect(try await observer.currentLeader() == first)

        try await a.release()
        let b = try #require(try await outcome(of: campaigning, "b to lead").get())
        let seen = try await next(leaders, "the observer to see b lead once a resigned")
        #expect(seen?.identityString == "b" && seen?.token == b.token)
        try await b.release()
    }
}
