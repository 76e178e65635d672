import Coordination
import CoordinationRecipes
import CoordinationTestSupport
import Testing

/// An acquisition cancelled while it looks at the queue, the lock free, gives up: it used to
/// take the lock all the same (the answer said it was first, and nothing looked at the
/// cancellation after it), handing a lease to a caller that had stopped wanting it, and running
/// `withLock`'s body.
@Suite(.serverLoadLimit) struct CancelledAcquireTests {
    @Test(arguments: RecipeBackend.all)
    func aWithLockCancelledWhileLookingAtTheQueueRunsNoBody(backend: RecipeBackend) async throws {
        let handles = try Handles(backend)
        defer { Task { await handles.closeAll() } }
        let path = try Key("/cancelled-lock")
        let observer = try await handles.open()
        let held = HeldListingStore(try await handles.open())
        let ran = Shared(false)
        let locking = Task { try await Lock(store: held, path: path).withLock { _ in ran.withLock { $0 = true } } }
        try await withDeadline("the look at the queue") { await held.listings.reach(1) }
        locking.cancel()
        held.answer()
        let result = try await outcome(of: locking, "the cancelled withLock to end")
        #expect(throws: CancellationError.self) { try result.get() }
        #expect(!ran.withLock { $0 }, "the body did not run")
        try await waitForEntries(observer, path, count: 0)
    }

    @Test(arguments: RecipeBackend.all, LockLike.allCases)
    func anAcquireCancelledWhileLookingAtTheQueueReturnsNoLease(backend: RecipeBackend, kind: LockLike) async throws {
        let handles = try Handles(backend)
        defer { Task { await handles.closeAll() } }
        let path = try Key("/cancelled-\(kind.rawValue)")
        let observer = try await handles.open()
        let held = HeldListingStore(try await handles.open())
        let acquiring = Task { try await kind.acquire(held, path) }
        try await withDeadline("the look at the queue") { await held.listings.reach(1) }
        acquiring.cancel()
        held.answer()
        let result = try await outcome(of: acquiring, "the cancelled acquisition to end")
        #expect(throws: CancellationError.self) { try result.get() }
        try await waitForEntries(observer, path, count: 0)
    }
}
