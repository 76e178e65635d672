import Coordination
import CoordinationMemory
import Synchronization
import Testing

/// `WatchHub` on the embedded store's watches: one underlying watch however many subscribe, a
/// late subscriber starts from the shared view, and every subscriber sees the same events.
/// A hub that drops an event leaves a subscriber waiting for good: the time limit, a guard and
/// not a measure, makes that a failure instead of a run that never ends.
@Suite(.timeLimit(.minutes(1))) struct WatchHubTests {
    @Test func subscribersShareOneWatchAndALateOneStartsFromItsView() async throws {
        let store = try await MemoryServer().connect(namespace: .root, sessionTTL: .seconds(30))
        let hub = WatchHub()
        let opened = Mutex(0)
        let root = try Key("/w")
        let watch: @Sendable () -> WatchHub.Stream = {
            hub.watch(root, scope: .subtree) {
                opened.withLock { $0 += 1 }
                return store.watch(root, scope: .subtree)
            }
        }
        let w = try await store.create(root, value: [], mode: .persistent)
        var first = watch().makeAsyncIterator()
        #expect(try await first.next() == .snapshot([w]))
        let a = try await store.create(try Key("/w/a"), value: [1], mode: .persistent)
        #expect(try await first.next() == .put(a))

        var second = watch().makeAsyncIterator()
        #expect(try await second.next() == .snapshot([w, a]), "a late subscriber starts from the shared view")
        let b = try await store.create(try Key("/w/b"), value: [2], mode: .persistent)
        try await store.delete(a.key, ifVersion: nil, recursive: false)
        for index in 0..<2 {
            var iterator = index == 0 ? first : second
            #expect(try await iterator.next() == .put(b))
            #expect(try await iterator.next() == .delete(a.key))
        }
        #expect(opened.withLock { $0 } == 1, "one underlying watch for both")
        await store.close()
    }

    @Test func theSharedWatchEndsWithItsLastSubscriberAndAFailureReachesEveryone() async throws {
        let store = try await MemoryServer().connect(namespace: .root, sessionTTL: .seconds(30))
        let hub = WatchHub()
        let opened = Mutex(0)
        let root = try Key("/w")
        let watch: @Sendable () -> WatchHub.Stream = {
            hub.watch(root, scope: .key) {
                opened.withLock { $0 += 1 }
                return store.watch(root, scope: .key)
            }
        }
        // Two subscribers that go away (their tasks cancelled): the next one opens a new watch.
        for _ in 0..<2 {
            let ready = AsyncStream<Void>.makeStream()
            let task = Task {
                for try await _ in watch() { ready.continuation.yield() }
            }
            for await _ in ready.stream { break }
            task.cancel()
            _ = await task.result
        }
        #expect(opened.withLock { $0 } == 2, "each time the last subscriber left, the shared watch ended")

        // Closing the store fails the underlying watch: every subscriber gets the error.
        var one = watch().makeAsyncIterator()
        var two = watch().makeAsyncIterator()
        _ = try await one.next()
        _ = try await two.next()
        await store.close()
        await #expect(throws: (any Error).self) { while try await one.next() != nil {} }
        await #expect(throws: (any Error).self) { while try await two.next() != nil {} }
    }
}
