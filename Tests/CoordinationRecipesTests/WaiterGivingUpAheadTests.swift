import Coordination
@testable import CoordinationRecipes
import CoordinationTestSupport
import Testing

/// The entry a waiter watches going away does not by itself let the waiter in: it may be
/// another waiter giving up, not a holder releasing. Taking that deletion for an admission
/// gave the lock to a second holder while the first still held it.
@Suite(.serverLoadLimit) struct WaiterGivingUpAheadTests {
    /// What happened first, once the waiter ahead of `last` gave up.
    enum FirstAfterGivingUp: Sendable, Equatable {
        case lastWasAdmitted
        case lastWatchesTheHolder
    }

    @Test(arguments: RecipeBackend.all)
    func aWaiterGivingUpAheadDoesNotAdmitTheOneBehind(backend: RecipeBackend) async throws {
        let handles = try Handles(backend)
        defer { Task { await handles.closeAll() } }
        let path = try Key("/locks/giving-up")
        let observer = try await handles.open()
        let holder = try #require(try await Lock(store: try await handles.open(), path: path).acquire())

        let middleStore = try await handles.open()
        let middle = Task { try await Lock(store: middleStore, path: path).acquire() }
        try await waitForEntries(observer, path, count: 2)

        // The last waiter's watches are counted: its first is on the middle waiter's entry; a
        // second one armed means it looked at the queue again and went back to waiting.
        let lastStore = CountingStore(try await handles.open())
        let (admitted, admittedSignal) = AsyncStream<Int64>.makeStream()
        let last = Task {
            let lease = try #require(try await Lock(store: lastStore, path: path).acquire())
            admittedSignal.yield(lease.token)
            return lease
        }
        try await withDeadline("the last waiter to watch the one ahead") { await lastStore.snapshots.reach(1) }
        #expect(lastStore.wakeups.current == 0)

        middle.cancel()
        await #expect(throws: CancellationError.self) { try await outcome(of: middle, "the cancelled middle waiter to end").get() }

        let first = try await withDeadline("the last waiter to react to the one ahead giving up") {
            try await withThrowingTaskGroup(of: FirstAfterGivingUp?.self) { group in
                group.addTask {
                    for await _ in admitted { return .lastWasAdmitted }
                    return nil
                }
                group.addTask {
                    await lastStore.snapshots.reach(2)
                    return .lastWatchesTheHolder
                }
                defer { group.cancelAll() }
                return try await group.next() ?? nil
            }
        }
        #expect(first == .lastWatchesTheHolder, "admitted while \(holder.key.name) still holds the lock")
        #expect(try await observer.children(of: path).count == 2, "the holder and the last waiter")

        try await holder.release()
        let lease = try await outcome(of: last, "the last waiter to get in").get()
        #expect(lease.token > holder.token)
        try await lease.release()
    }
}
