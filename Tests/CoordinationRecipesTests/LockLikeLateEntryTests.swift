import Coordination
import CoordinationRecipes
import CoordinationTestSupport
import Testing

/// The semaphore, the read-write lock and the election queue through the lock's acquirer, so an
/// acquisition (a campaign) of theirs that gives up while a create of its join lands late, behind its entry, removes that
/// entry too, as ``LockTests/aGivenUpAcquisitionRemovesItsJoinsLateEntry(backend:)`` has the
/// lock do: left, it blocked everyone who queued behind it for as long as the session lived.
@Suite(.serverLoadLimit) struct LockLikeLateEntryTests {
    @Test(arguments: RecipeBackend.all, LockLike.allCases)
    func aGivenUpAcquisitionRemovesItsJoinsLateEntry(backend: RecipeBackend, kind: LockLike) async throws {
        let handles = try Handles(backend)
        defer { Task { await handles.closeAll() } }
        let path = try Key("/busy-late")
        let observer = try await handles.open()
        let held = try #require(try await kind.rival(observer, path))
        let late = CreateLandingLate(try await handles.open())
        let waiting = Task { try await kind.acquire(late, path) }
        try await waitForEntries(observer, path, count: 2)
        let stray = try await late.land()
        waiting.cancel()
        if case .success(let lease?) = try await outcome(of: waiting, "the cancelled waiter to end") { try await lease.release() }
        #expect(try await observer.children(of: path) == [held.key.name], "only the holder's entry is left, not \(stray.key.name)")
        try await held.release()
    }

    @Test(arguments: RecipeBackend.all)
    func aGivenUpCampaignRemovesItsJoinsLateEntry(backend: RecipeBackend) async throws {
        let handles = try Handles(backend)
        defer { Task { await handles.closeAll() } }
        let path = try Key("/election-late")
        let observer = try await handles.open()
        let leader = try #require(try await LeaderElection(store: observer, path: path, identity: "a").campaign(timeout: .zero))
        let late = CreateLandingLate(try await handles.open())
        let waiting = Task { try await LeaderElection(store: late, path: path, identity: "b").campaign() }
        try await waitForEntries(observer, path, count: 2)
        let stray = try await late.land()
        waiting.cancel()
        if case .success(let lease?) = try await outcome(of: waiting, "the cancelled waiter to end") { try await lease.release() }
        #expect(try await observer.children(of: path) == [leader.key.name], "only the leader's entry is left, not \(stray.key.name)")
        try await leader.release()
    }
}
