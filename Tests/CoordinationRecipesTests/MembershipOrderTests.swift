import Coordination
import CoordinationRecipes
import CoordinationTestSupport
import Testing

/// Members that joined at one revision (created in one transaction: a ZooKeeper multi, an etcd
/// txn) list in one order, by id, in `members()` and `watch()` alike, on every backend.
@Suite(.serverLoadLimit) struct MembershipOrderTests {
    @Test(arguments: RecipeBackend.all)
    func membersJoinedAtOneRevisionListByID(backend: RecipeBackend) async throws {
        let handles = try Handles(backend)
        defer { Task { await handles.closeAll() } }
        let group = try Key("/crew")
        let store = try await handles.open()
        let observer = Membership(store: try await handles.open(), group: group)
        let views = observer.watch()
        #expect(try await next(views, "the observer's first view") == [])
        // Enough ids that an order left to hashing would almost surely differ from the ids' order.
        let ids = (0..<12).map { "m\($0 < 10 ? "0" : "")\($0)" }
        _ = try await store.create(group, value: [], mode: .persistent)
        _ = try await store.transaction(ids.reversed().map { .create(try group.child($0), value: [], mode: .ephemeral) })
        let listed = try await observer.members()
        #expect(Set(listed.map(\.joinedRevision)).count == 1, "one transaction, one revision")
        #expect(listed.map(\.id) == ids)
        let watched = try await nextMatching(views, "the observer to see all \(ids.count) members") { $0.count >= ids.count }
        #expect(watched.map(\.id) == ids)
        // A change of one member's metadata makes a new state in the same order.
        _ = try await store.set(try group.child("m05"), value: [1], ifVersion: nil)
        #expect(try await next(views, "the observer to see m05's metadata change").map(\.id) == ids)
    }
}
