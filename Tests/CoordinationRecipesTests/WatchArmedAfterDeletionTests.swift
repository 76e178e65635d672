import Coordination
@testable import CoordinationRecipes
import CoordinationTestSupport
import Testing

/// A waiter whose predecessor leaves between the waiter's look at the queue and its watch on
/// that entry sees no deletion event: only the watch's first snapshot, empty, says the entry is
/// gone. Missing it left the waiter waiting, for ever, for a lock nobody held.
@Suite(.serverLoadLimit) struct WatchArmedAfterDeletionTests {
    @Test(arguments: RecipeBackend.all)
    func aPredecessorGoneBeforeTheWatchIsArmedLetsTheWaiterIn(backend: RecipeBackend) async throws {
        let handles = try Handles(backend)
        defer { Task { await handles.closeAll() } }
        let path = try Key("/locks/gone-before-watch")
        let holder = try #require(try await Lock(store: try await handles.open(), path: path).acquire())
        // Set as the holder starts leaving, not once its release returns: once the entry is
        // deleted the waiter may get in by another way before the release returns (a release
        // that fails after its delete fails the waiter's delayed watch too, and the waiter then
        // lists the queue again and finds itself first).
        let leaving = Shared(false)
        let waiterStore = LateArmedWatchStore(try await handles.open(), key: holder.key) {
            leaving.withLock { $0 = true }
            try await holder.release()
        }
        let lease = try #require(
            try await withDeadline("the waiter to get in once the holder left", limit: .seconds(15)) {
                try await Lock(store: waiterStore, path: path).acquire()
            })
        #expect(leaving.withLock { $0 }, "the holder left between the waiter's listing and its watch")
        #expect(lease.token > holder.token)
        try await lease.release()
    }
}
