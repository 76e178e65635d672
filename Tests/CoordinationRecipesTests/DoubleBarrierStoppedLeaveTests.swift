import Coordination
import CoordinationRecipes
import CoordinationTestSupport
import Testing

/// Every leaver of a round stops before its leave completes (cancelled, or its handle closed):
/// the last one out lowers `ready` all the same. Left raised, the next round on the path found
/// it at once and let its first participant through alone.
extension DoubleBarrierTests {
    enum FirstLeaverStops: String, CaseIterable, Sendable {
        case cancelled, storeClosed
    }

    @Test(arguments: RecipeBackend.all, FirstLeaverStops.allCases)
    func theLastLeaverToStopLowersTheBarrier(backend: RecipeBackend, firstStops: FirstLeaverStops) async throws {
        let handles = try Handles(backend)
        defer { Task { await handles.closeAll() } }
        let (path, members, ready) = try DoubleBarrier.testKeys()
        let observer = try await handles.open()
        let firstStore = try await handles.open()
        let first = try DoubleBarrier(store: firstStore, path: path, count: 2)
        let second = try DoubleBarrier(store: try await handles.open(), path: path, count: 2)
        try await withDeadline("both to enter") {
            async let firstIn: Void = first.enter(id: "first")
            async let secondIn: Void = second.enter(id: "second")
            _ = try await (firstIn, secondIn)
        }
        #expect(try await observer.exists(ready), "entering raised the barrier")

        // The first is out and waits for the second to leave, then stops waiting.
        let firstLeaving = Task { try await first.leave(id: "first") }
        try await waitForEntries(observer, members, "the first to be out") { $0 == ["second"] }
        switch firstStops {
        case .cancelled: firstLeaving.cancel()
        case .storeClosed: await firstStore.close()
        }
        let firstEnded = try await outcome(of: firstLeaving, "the first leave to stop")
        #expect(throws: (any Error).self, "a leave that stopped says so") { try firstEnded.get() }
        #expect(try await observer.exists(ready), "the second is still in: the barrier stays raised for it")

        // The second gives up leaving at once, cancelled before it saw anyone.
        let secondLeaving = Task {
            withUnsafeCurrentTask { $0?.cancel() }
            try await second.leave(id: "second")
        }
        await #expect(throws: CancellationError.self) { try await outcome(of: secondLeaving, "the cancelled second leave to end").get() }
        #expect(try await observer.children(of: members).isEmpty, "both are out")
        #expect(try await observer.exists(ready) == false, "the last one out lowered the barrier")
    }
}
