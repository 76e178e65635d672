import Coordination
import CoordinationRecipes
import CoordinationTestSupport
import Testing

/// A leave whose watch resyncs (a reconnect, an etcd compaction, a re-armed ZooKeeper watch: a
/// fresh snapshot after a gap) tells the participants it waits for from the next round's by
/// their members' creation, not by their ids.
extension DoubleBarrierTests {
    /// The slow leaver's watch is cut off while the other leaves and enters the next round: the
    /// snapshot after the gap shows that one's id again, in a member made anew. Taken for the
    /// member it was waiting for, the slow leaver waited for it to leave a round it could not
    /// complete without the slow one: nobody ever got out.
    @Test(arguments: RecipeBackend.all)
    func aLeaveResyncedAfterTheOtherEnteredAgainReturns(backend: RecipeBackend) async throws {
        let handles = try Handles(backend)
        defer { Task { await handles.closeAll() } }
        let (path, members, ready) = try DoubleBarrier.testKeys()
        let observer = try await handles.open()
        let gappy = ResyncingStore(try await handles.open())
        let slow = try DoubleBarrier(store: gappy, path: path, count: 2)
        let other = try DoubleBarrier(store: try await handles.open(), path: path, count: 2)
        try await withDeadline("both to enter") {
            async let slowIn: Void = slow.enter(id: "slow")
            async let otherIn: Void = other.enter(id: "other")
            _ = try await (slowIn, otherIn)
        }
        let otherFirst = try #require(try await observer.get(members.child("other")))

        // The slow one begins to leave: its watch has shown both members, and it has gone.
        let watched = gappy.snapshots.current
        let slowLeaving = Task { try await slow.leave(id: "slow") }
        try await withDeadline("the slow leave to watch") { await gappy.snapshots.reach(watched + 1) }
        try await waitForEntries(observer, members) { $0 == ["other"] }
        gappy.detach()

        // Meanwhile the other leaves and enters the next round, under the same id.
        try await withDeadline("the other to leave") { try await other.leave(id: "other") }
        let otherAgain = Task { try await other.enter(id: "other") }
        try await waitForEntries(observer, members) { $0 == ["other"] }
        let otherSecond = try #require(try await observer.get(members.child("other")))
        #expect(otherSecond.createRevision > otherFirst.createRevision, "a member made anew")

        gappy.reattach()
        try await outcome(of: slowLeaving, "the slow leave to return once its watch resynced").get()

        // The next round completes with both.
        try await withDeadline("the next round") {
            try await slow.enter(id: "slow")
            try await outcome(of: otherAgain, "the other to enter the next round").get()
            async let slowOut: Void = slow.leave(id: "slow")
            async let otherOut: Void = other.leave(id: "other")
            _ = try await (slowOut, otherOut)
        }
        #expect(try await observer.children(of: members).isEmpty)
        #expect(try await observer.exists(ready) == false)
    }
}
