import Coordination
import CoordinationRecipes
import CoordinationTestSupport
import Testing

@Suite(.serverLoadLimit) struct ExpiryBeforeNextSessionTests {
    /// A holder is cancelled and told as soon as its handle reports the session expired, not only
    /// once the handle reports the next session: until then (a new lease grant failing, the
    /// server busy) another contender may already hold the lock the expired entry held.
    @Test(arguments: RecipeBackend.all)
    func aHolderIsCancelledWhenItsSessionExpiresBeforeTheNextOneIsReported(backend: RecipeBackend) async throws {
        let handles = try Handles(backend)
        defer { Task { await handles.closeAll() } }
        let path = try Key("/locks/expiry")
        let base = try await handles.open()
        let store = NextSessionWithheldStore(base)
        let (entered, enteredSignal) = AsyncStream<Void>.makeStream()
        let cancelled = Shared(false)
        let holder = Task {
            try await Lock(store: store, path: path).withLock { _ in
                enteredSignal.yield()
                do {
                    try await Task.sleep(for: .seconds(3600))  // work that only ends by cancellation
                } catch {
                    cancelled.withLock { $0 = true }
                    throw error
                }
            }
        }
        try await next(entered, "the holder to enter")
        try await backend.expire(base)
        let ended = try await outcome(of: holder, "the holder to be told its session expired")
        #expect { try ended.get() } throws: { isSessionLost($0) }
        #expect(cancelled.withLock { $0 }, "the body was cancelled")
    }
}
