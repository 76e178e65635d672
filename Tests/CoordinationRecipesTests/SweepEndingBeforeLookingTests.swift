import Coordination
import CoordinationRecipes
import CoordinationTestSupport
import Synchronization
import Testing

/// A sweep that ends (on a failure that will not pass) hands the stems it never looked for to a
/// fresh sweep; but the stem the sweep was started for counted as looked for even when the
/// sweep ended before its watch delivered anything. That stem had only its release's one
/// listing: its create landing afterwards stayed in line for nobody, ahead of everyone, for as
/// long as the session lived.
@Suite(.serverLoadLimit) struct SweepEndingBeforeLookingTests {
    @Test(arguments: RecipeBackend.all)
    func theStemASweepWasStartedForGoesToAFreshSweepWhenItNeverLooked(backend: RecipeBackend) async throws {
        let handles = try Handles(backend)
        defer { Task { await handles.closeAll() } }
        let path = try Key("/sweep-refused-at-once")
        let observer = try await handles.open()
        let store = CreateHeldFirstWatchRefused(try await handles.open())

        // The first create's reply is lost, its join finds nothing and creates again: the
        // release starts the session's sweep, whose first watch is refused before any event.
        let lease = try #require(try await Lock(store: store, path: path).acquire(timeout: .seconds(10)), "the lock is free")
        try await lease.release()
        try await withDeadline("the sweep's watch to be refused") { await store.refusals.reach(1) }
        #expect(try await observer.children(of: path).isEmpty, "the release left no entry behind")

        try await expectLateEntryRemoved(landing: store.land, observer: observer, path: path)
    }
}

/// Wraps a store whose first create is not applied but answered `connectionLoss` (the outcome
/// unknown to the caller), and applied only when the test calls ``land()``; and whose first
/// watch fails with `permissionDenied` (a failure that will not pass) before delivering anything.
final class CreateHeldFirstWatchRefused: ForwardingStore {
    /// Holds the first create back.
    private let inner: CreateLandingLate
    let refusals = Broadcast(0)
    private let watches = Mutex(0)

    init(_ base: any CoordinationStore) { inner = CreateLandingLate(base) }

    var base: any CoordinationStore { inner }

    func watch(_ key: Key, scope: WatchScope) -> AsyncThrowingStream<WatchEvent, any Error> {
        let refused = watches.withLock { watches in
            defer { watches += 1 }
            return watches == 0
        }
        guard refused else { return base.watch(key, scope: scope) }
        return AsyncThrowingStream { [refusals] continuation in
            refusals.update { $0 += 1 }
            continuation.finish(throwing: CoordinationError(.permissionDenied, "watch refused (simulated)", key: key))
        }
    }

    /// Applies the create held back.
    func land() async throws -> Record { try await inner.land() }
}
