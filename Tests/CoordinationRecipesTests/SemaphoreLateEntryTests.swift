import Coordination
import CoordinationRecipes
import CoordinationTestSupport
import Testing

/// A create of a permit holder's join whose reply was lost, landing after the holder was let in
/// (etcd may apply a write after reporting it lost), sits among the first `permits` entries,
/// behind the holder's own. It is the holder's, not another holder: counted as one, it kept a
/// free permit from everyone who came after it until the holder released.
@Suite(.serverLoadLimit) struct SemaphoreLateEntryTests {
    @Test(arguments: RecipeBackend.all)
    func aHoldersLateEntryTakesNoPermit(backend: RecipeBackend) async throws {
        let handles = try Handles(backend)
        defer { Task { await handles.closeAll() } }
        let path = try Key("/semaphores/late-entry")
        let late = CreateLandingLate(try await handles.open())
        let second = try await handles.open()
        let third = try await handles.open()

        let held = try #require(try await Semaphore(store: late, path: path, permits: 2).acquire(timeout: .zero), "both permits are free")
        let stray = try await late.land()
        #expect(SequentialQueue.stem(of: stray.key.name) == SequentialQueue.stem(of: held.key.name), "the late entry is the holder's join's")
        // The second handle must see the stray, or it would be let in whatever the count.
        try await waitForEntries(second, path, count: 2)

        let other = try await Semaphore(store: second, path: path, permits: 2).acquire(timeout: .zero)
        #expect(other != nil, "one permit is held, the other is free: the holder's late entry is no holder")
        let refused = try await Semaphore(store: third, path: path, permits: 2).acquire(timeout: .zero)
        #expect(refused == nil, "both permits are held")
        try await refused?.release()

        try await held.release()
        #expect(try await second.children(of: path) == other.map { [$0.key.name] } ?? [], "the release took the late entry with it")
        let next = try await Semaphore(store: third, path: path, permits: 2).acquire(timeout: .zero)
        #expect(next != nil, "a permit is free again")
        try await next?.release()
        try await other?.release()
    }
}
