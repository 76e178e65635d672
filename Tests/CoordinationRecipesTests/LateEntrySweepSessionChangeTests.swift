import Coordination
import CoordinationRecipes
import CoordinationTestSupport
import Testing

/// Late-entry sweeps are shared by handle (its identity), queue and session: when the handle's
/// session is replaced, the old session's sweep ends (its entries went with it), and a join of
/// the new session whose create may land late gets a sweep of its own, rather than being added
/// to the old one and never swept.
@Suite(.serverLoadLimit) struct LateEntrySweepSessionChangeTests {
    @Test(arguments: RecipeBackend.all)
    func aReplacedSessionsSweepEndsAndTheNewSessionGetsItsOwn(backend: RecipeBackend) async throws {
        let handles = try Handles(backend)
        defer { Task { await handles.closeAll() } }
        let path = try Key("/sweep-session-change")
        let observer = try await handles.open()
        let base = try await handles.open()
        let counting = CountingStore(base)

        let before = CreatesLandingLate(counting)
        let first = try #require(try await Lock(store: before, path: path).acquire(timeout: .seconds(10)), "the lock is free")
        try await first.release()
        _ = try await before.landAll()
        try await waitForEntries(observer, path, "the first session's late entry removed") { $0.isEmpty }
        #expect(counting.openWatches.current == 1, "one sweep, the first session's")

        let old = base.session.sessionID
        try await backend.expire(base)
        try await withDeadline("the first session's sweep to end with it", limit: .seconds(10)) {
            for await open in counting.openWatches.subscribe() where open == 0 { return }
        }

        let after = CreatesLandingLate(counting)
        let second = try #require(try await Lock(store: after, path: path).acquire(timeout: .seconds(10)), "the lock is free")
        #expect(second.sessionID != old, "the second lease is the new session's")
        try await second.release()
        let strays = try await after.landAll()
        // One or more: right after an expiry a join may be made again, and lose a reply again.
        #expect(!strays.isEmpty, "a create of the new session landed late")
        try await waitForEntries(observer, path, "the new session's late entry removed") { $0.isEmpty }
        #expect(counting.openWatches.current == 1, "one sweep again, the new session's")
    }
}
