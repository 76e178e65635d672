import Coordination
import CoordinationRecipes
import CoordinationTestSupport
import Testing

/// A semaphore waiter watches every entry ahead of it; when one of them leaves between the
/// waiter's look at the queue and its watch, only the watch's first snapshot says so, with the
/// others still there. Waiting on until they all left kept the waiter out while a permit was free.
@Suite(.serverLoadLimit) struct SemaphoreWatchArmedAfterDeletionTests {
    @Test(arguments: RecipeBackend.all)
    func aHolderGoneBeforeTheWatchIsArmedLetsTheWaiterIn(backend: RecipeBackend) async throws {
        let handles = try Handles(backend)
        defer { Task { await handles.closeAll() } }
        let path = try Key("/permits/gone-before-watch")
        let holders = try Semaphore(store: try await handles.open(), path: path, permits: 2)
        let leaving = try #require(try await holders.acquire())
        let staying = try #require(try await holders.acquire())
        let left = Shared(false)
        let waiterStore = LateArmedWatchStore(try await handles.open(), key: path) {
            left.withLock { $0 = true }
            try await leaving.release()
        }
        let lease = try #require(
            try await withDeadline("the waiter to get the permit given back", limit: .seconds(15)) {
                try await Semaphore(store: waiterStore, path: path, permits: 2).acquire()
            })
        #expect(left.withLock { $0 }, "a holder left between the waiter's listing and its watch")
        #expect(try await staying.isHeld(), "the other holder still holds its permit")
        try await lease.release()
        try await staying.release()
    }
}
