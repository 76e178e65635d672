import Coordination
import CoordinationRecipes
import CoordinationTestSupport
import Synchronization
import Testing

/// A plain acquisition whose join fails after a lost create reply (the search for its entry
/// failed too) had the entries of its marker removed once, when back in contact, and nothing
/// more: the create landing after that removal stayed in line for nobody, ahead of everyone
/// who queued after it, for as long as the session lived.
@Suite(.serverLoadLimit) struct JoinFailedAfterLostCreateTests {
    @Test(arguments: RecipeBackend.all, QueueLock.allCases)
    func theLostCreateLandingAfterTheJoinFailedIsRemoved(backend: RecipeBackend, kind: QueueLock) async throws {
        let handles = try Handles(backend)
        defer { Task { await handles.closeAll() } }
        let path = try Key("/join-failed-late")
        let observer = try await handles.open()
        let store = CreateLostThenListingFails(try await handles.open())

        await #expect(throws: CoordinationError.self, "the join fails: its search after the lost reply failed") {
            try await kind.acquire(store, path, timeout: .seconds(10))
        }
        try await expectLateEntryRemoved(landing: store.land, observer: observer, path: path, kind: kind)
    }
}

/// Wraps a store whose first create is not applied but answered `connectionLoss` (the outcome
/// unknown to the caller), and applied only when the test calls ``land()``; the listing that
/// follows it fails with `connectionLoss` too, as contact is still lost; later ones pass.
final class CreateLostThenListingFails: ForwardingStore {
    /// Holds the first create back.
    private let inner: CreateLandingLate
    private let listings = Mutex(0)

    init(_ base: any CoordinationStore) { inner = CreateLandingLate(base) }

    var base: any CoordinationStore { inner }

    func children(of key: Key) async throws -> [String] {
        // The first listing after the held create fails; none before it is counted.
        let fails = inner.heldACreate && listings.withLock { listings in
            defer { listings += 1 }
            return listings == 0
        }
        if fails { throw CoordinationError(.connectionLoss, "still out of contact (simulated)", key: key) }
        return try await base.children(of: key)
    }

    /// Applies the create held back.
    func land() async throws -> Record { try await inner.land() }
}
