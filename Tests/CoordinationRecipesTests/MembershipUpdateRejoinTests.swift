import Coordination
import CoordinationRecipes
import CoordinationTestSupport
import Testing

/// `update` writes only the membership it was given: a member that left, and another joined
/// under its id between the update's read and its write, keeps the new member's metadata.
@Suite(.serverLoadLimit) struct MembershipUpdateRejoinTests {
    @Test(arguments: RecipeBackend.all)
    func anUpdateLeavesAMemberThatJoinedUnderTheSameIdAlone(backend: RecipeBackend) async throws {
        let handles = try Handles(backend)
        defer { Task { await handles.closeAll() } }
        let group = try Key("/groups/update-rejoin")
        let base = try await handles.open()
        let joined = try await Membership(store: base, group: group).join(id: "a", metadata: [1])
        // At version 1: the member joining anew starts at version 0, which the write no longer expects.
        let member = try await Membership(store: base, group: group).update(joined, metadata: [2])
        let rejoining = RejoinedBeforeSetStore(base, rejoiningWith: [9])

        await #expect {
            try await Membership(store: rejoining, group: group).update(member, metadata: [3])
        } throws: { error in
            (error as? CoordinationError)?.code == .noNode
        }
        let observer = Membership(store: try await handles.open(), group: group)
        let members = try await observer.members()
        #expect(members.map(\.metadata) == [[9]], "the new member's metadata is its own")
        #expect(members.map(\.joinedRevision) != [member.joinedRevision])
    }
}
