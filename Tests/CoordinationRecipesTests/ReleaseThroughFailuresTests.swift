import Coordination
import CoordinationRecipes
import CoordinationTestSupport
import Testing

/// `LockLease.release()` used to try once and throw: a caller that released once and went on
/// left its entry (and any late one of its join) ahead of everyone for as long as its session
/// lived. It now retries failures that may pass while the session may hold the entry.
@Suite(.serverLoadLimit) struct ReleaseThroughFailuresTests {
    @Test(arguments: RecipeBackend.all, [CoordinationError.Code.connectionLoss, .unavailable])
    func aReleaseWhoseDeleteFailsOnceStillFreesTheLock(backend: RecipeBackend, failure: CoordinationError.Code) async throws {
        let handles = try Handles(backend)
        defer { Task { await handles.closeAll() } }
        let path = try Key("/release-retried")
        let observer = try await handles.open()
        let flaky = FlakyStore(try await handles.open(), deletes: 1, deleteError: failure)

        let lease = try #require(try await Lock(store: flaky, path: path).acquire(timeout: .zero), "the lock is free")
        try await withDeadline("the release", limit: .seconds(10)) { try await lease.release() }
        #expect(flaky.failures == 1, "the first delete failed")
        #expect(try await observer.children(of: path).isEmpty, "released once, the entry is gone")
        let next = try await Lock(store: observer, path: path).acquire(timeout: .zero)
        #expect(next != nil, "the lock is free")
        try await next?.release()
    }
}
