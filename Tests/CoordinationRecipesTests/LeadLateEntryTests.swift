import Coordination
import CoordinationRecipes
import CoordinationTestSupport
import Testing

/// `lead` keeps one marker for all its campaigns, so its releases cannot sweep late entries (the
/// sweep would take the next campaign's entry). A create of a campaign whose reply was lost,
/// not found by its join, landing after `lead` had returned, stayed first in line for nobody:
/// the election had no leader for as long as the session lived. Once `lead` ends, such entries
/// are removed as they appear.
@Suite(.serverLoadLimit) struct LeadLateEntryTests {
    @Test(arguments: RecipeBackend.all)
    func aCampaignsEntryLandingAfterLeadEndedIsRemoved(backend: RecipeBackend) async throws {
        let handles = try Handles(backend)
        defer { Task { await handles.closeAll() } }
        let path = try Key("/lead-late")
        let observer = try await handles.open()
        let late = CreateLandingLate(try await handles.open())

        try await withDeadline("lead to lead once and return", limit: .seconds(10)) {
            try await LeaderElection(store: late, path: path, identity: "a").lead { _ in }
        }
        #expect(try await observer.children(of: path).isEmpty, "lead left no entry behind")
        let stray = try await late.land()
        try await withDeadline("the late entry \(stray.key.name) to be removed", limit: .seconds(10)) {
            try await waitForEntries(observer, path, "no entry under \(path)") { $0.isEmpty }
        }
        let next = try await LeaderElection(store: observer, path: path, identity: "b").campaign(timeout: .zero)
        #expect(next != nil, "the next candidate leads at once")
        try await next?.release()
    }
}
