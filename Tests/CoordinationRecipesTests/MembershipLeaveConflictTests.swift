import Coordination
import CoordinationRecipes
import CoordinationTestSupport
import Testing

/// `leave(_ member:)` deletes at the version it read; a member updated between each read and
/// delete, every time, is not removed. The caller must learn it: it returned as if it had left,
/// the member still listed.
@Suite(.serverLoadLimit) struct MembershipLeaveConflictTests {
    @Test(arguments: RecipeBackend.all)
    func aLeaveThatKeepsConflictingThrows(backend: RecipeBackend) async throws {
        let handles = try Handles(backend)
        defer { Task { await handles.closeAll() } }
        let group = try Key("/groups/leave-conflicts")
        let base = try await handles.open()
        let member = try await Membership(store: base, group: group).join(id: "busy", metadata: [1])
        let updating = UpdatedBeforeDeleteStore(base)

        await #expect {
            try await Membership(store: updating, group: group).leave(member)
        } throws: { error in
            (error as? CoordinationError)?.code == .versionConflict && "\(error)".contains("busy")
        }
        #expect(updating.conditionalDeletes > 1, "the leave read again after a conflict")
        let observer = try await handles.open()
        #expect(try await Membership(store: observer, group: group).members().map(\.joinedRevision) == [member.joinedRevision],
                "the member is still there")

        try await Membership(store: base, group: group).leave(member)
        #expect(try await Membership(store: observer, group: group).members().isEmpty, "left once nothing got in the way")
    }
}
