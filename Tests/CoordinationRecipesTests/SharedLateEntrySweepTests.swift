import Coordination
import CoordinationRecipes
import CoordinationTestSupport
import Testing

/// Every release (or give-up) whose join may still see a create land late has the entries
/// removed as they appear until the session ends. One sweep per acquisition, each a task and a
/// watch for the rest of the session, piled up on a long-lived handle that lost many replies;
/// now one sweep per handle, queue and session serves them all.
@Suite(.serverLoadLimit) struct SharedLateEntrySweepTests {
    @Test(arguments: RecipeBackend.all)
    func releasesWithLateCreatesShareOneSweep(backend: RecipeBackend) async throws {
        let handles = try Handles(backend)
        defer { Task { await handles.closeAll() } }
        let path = try Key("/shared-sweep")
        let observer = try await handles.open()
        let base = try await handles.open()
        let counting = CountingStore(base)
        let late = CreatesLandingLate(counting)

        let acquisitions = 3
        for _ in 0..<acquisitions {
            let lease = try #require(try await Lock(store: late, path: path).acquire(timeout: .seconds(10)), "the lock is free")
            try await lease.release()
        }
        let strays = try await late.landAll()
        #expect(strays.count == acquisitions, "each acquisition left one create to land")
        // Each stray is only removed by a sweep that watches the queue.
        try await waitForEntries(observer, path, "every late entry removed") { $0.isEmpty }
        #expect(counting.openWatches.current == 1, "one sweep for the queue and session, not one per acquisition")

        // The sweep ends with the session.
        try await backend.expire(base)
        try await withDeadline("the sweep to end with its session", limit: .seconds(10)) {
            for await open in counting.openWatches.subscribe() where open == 0 { return }
        }
    }
}
