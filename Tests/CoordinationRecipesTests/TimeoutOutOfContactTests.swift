import Coordination
import CoordinationRecipes
import CoordinationTestSupport
import Testing

/// An acquisition with a timeout whose server goes silent while it waits gives up close to its
/// timeout, not once its session may have ended, and its entry still goes once contact is back.
@Suite(.serverLoadLimit) struct TimeoutOutOfContactTests {
    /// Its entry's removal was retried before `acquire` returned, for as long as the session
    /// could live: two TTLs from the last contact (20 s here), `coord lock --timeout 3s` exiting
    /// after 11 s. The limit below is the timeout and 3 s more (its own one-second wait for the
    /// removal, and a loaded machine's lag).
    @Test(arguments: RecipeBackend.all)
    func aLockTimingOutOutOfContactGivesUpAtItsTimeout(backend: RecipeBackend) async throws {
        try await givesUpAtItsTimeout(backend, try Key("/timeout-silent-lock")) { store, path, timeout in
            try await Lock(store: store, path: path).acquire(timeout: timeout)
        }
    }

    /// The same for a permit, a read lock and a write lock: the same queue, the same path.
    @Test(arguments: RecipeBackend.all, LockLike.allCases)
    func aLockLikeTimingOutOutOfContactGivesUpAtItsTimeout(backend: RecipeBackend, kind: LockLike) async throws {
        try await givesUpAtItsTimeout(backend, try Key("/timeout-silent-\(kind)"), rival: kind.rival) { store, path, timeout in
            try await kind.acquire(store, path, timeout: timeout)
        }
    }

    private func givesUpAtItsTimeout(
        _ backend: RecipeBackend, _ path: Key,
        rival: @escaping @Sendable (any CoordinationStore, Key, Duration?) async throws -> LockLease? = { store, path, _ in
            try await Lock(store: store, path: path).acquire()
        },
        _ acquire: @escaping @Sendable (any CoordinationStore, Key, Duration?) async throws -> LockLease?
    ) async throws {
        let handles = try Handles(backend)
        defer { Task { await handles.closeAll() } }
        let observer = try await handles.open()
        let held = try #require(try await rival(observer, path, nil))
        let suspendable = SuspendableStore(try await handles.open(), failsCallsWhileSuspended: true)
        let timeout = Duration.seconds(2)
        let waiting = Task { try await acquire(suspendable, path, timeout) }
        // Waiting for the holder, its store calls done: it would throw the cut's error otherwise.
        try await withDeadline("the waiter to wait") { await suspendable.watches.reach(1) }
        // Silent from now on, well within the session's 10 s TTL: the server keeps the session.
        suspendable.suspend(lastContact: .now)

        let result = try await outcome(of: waiting, "the waiter to give up", limit: timeout + .seconds(3))
        #expect(try result.get() == nil, "not acquired")
        #expect(try await observer.children(of: path).count == 2, "out of contact, its entry could not be removed yet")

        suspendable.resume()
        try await waitForEntries(observer, path, count: 1)
        #expect(try await observer.children(of: path) == [held.key.name], "once back, the entry given up went")
        try await held.release()
        let next = try #require(try await acquire(try await handles.open(), path, .seconds(10)), "nothing blocks the way")
        #expect(next.token > held.token)
        try await next.release()
    }
}
