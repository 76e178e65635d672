import Coordination
import CoordinationRecipes
import CoordinationTestSupport
import Testing

/// `Membership.watch()` whose store watch resyncs (a reconnect, an etcd compaction, a re-armed
/// one-shot watch: a fresh snapshot after a gap) says the group as it is now, and repeats nothing.
@Suite(.serverLoadLimit) struct MembershipWatchResyncTests {
    @Test(arguments: RecipeBackend.all)
    func aResyncAfterAGapSaysTheGroupNowOnce(backend: RecipeBackend) async throws {
        let handles = try Handles(backend)
        defer { Task { await handles.closeAll() } }
        let group = try Key("/workers")
        let gappy = ResyncingStore(try await handles.open())
        let views = Membership(store: gappy, group: group).watch()
        #expect(try await next(views, "the first view") == [])
        let a = Membership(store: try await handles.open(), group: group)
        let b = Membership(store: try await handles.open(), group: group)
        try await a.join(id: "a")
        #expect(try await next(views, "a to join").map(\.id) == ["a"])

        // One joins and another leaves while the watch is cut off.
        gappy.detach()
        try await b.join(id: "b")
        try await a.leave(id: "a")
        gappy.reattach()
        #expect(try await next(views, "the view after the resync").map(\.id) == ["b"], "b joined and a left in the gap")

        // A resync that finds the group unchanged says nothing: the next view is the next change.
        let resynced = gappy.snapshots.current
        gappy.detach()
        gappy.reattach()
        try await withDeadline("the watch to resync") { await gappy.snapshots.reach(resynced + 1) }
        try await a.join(id: "a")
        #expect(try await next(views, "a to join again").map(\.id) == ["b", "a"], "by join order, and not the unchanged view again")
    }
}
