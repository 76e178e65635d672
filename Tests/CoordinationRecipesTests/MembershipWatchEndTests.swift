import Coordination
import CoordinationRecipes
import CoordinationTestSupport
import Testing

/// A group's watch ends its store watch when the watching task is cancelled, or when its
/// consumer stops iterating and drops it: no watch is left behind.
@Suite(.serverLoadLimit) struct MembershipWatchEndTests {
    @Test(arguments: RecipeBackend.all)
    func endingTheWatchEndsTheStoreWatch(backend: RecipeBackend) async throws {
        let handles = try Handles(backend)
        defer { Task { await handles.closeAll() } }
        let counting = CountingStore(try await handles.open())
        let membership = Membership(store: counting, group: try Key("/crew"))

        let (first, firstSeen) = AsyncStream<Void>.makeStream()
        let watching = Task {
            for try await _ in membership.watch() { firstSeen.yield() }
        }
        try await next(first, "the watch's first view")
        #expect(counting.openWatches.current == 1)
        watching.cancel()
        try await Self.untilClosed(counting)

        try await withDeadline("a second watch's first view") {
            for try await view in membership.watch() {
                #expect(view == [])
                break  // stops iterating: the stream and its store watch are dropped
            }
        }
        try await Self.untilClosed(counting)
    }

    private static func untilClosed(_ counting: CountingStore) async throws {
        try await withDeadline("the store watch to end") {
            for await open in counting.openWatches.subscribe() where open == 0 { return }
        }
    }
}
