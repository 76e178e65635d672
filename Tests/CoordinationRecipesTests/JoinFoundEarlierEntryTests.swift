import Coordination
import CoordinationRecipes
import CoordinationTestSupport
import Synchronization
import Testing

/// The joins of one acquisition share a marker. When the session changed under the first join,
/// its entry is removed and the join made again; a removal given up out of contact leaves the
/// entry in a session the server kept. A second join whose create reply was lost then found
/// that entry and took it for its own create's, the create still to land, and the acquisition
/// was taken as having nothing left to land: the create landing after the release stayed in
/// line for nobody, ahead of everyone, for as long as the session lived (as
/// ``LeadFoundOlderEntryTests`` found for `lead`'s shared marker).
@Suite(.serverLoadLimit) struct JoinFoundEarlierEntryTests {
    @Test(arguments: RecipeBackend.all, QueueLock.allCases)
    func aLostCreateWhoseJoinTookAnEarlierJoinsEntryIsRemovedAfterRelease(backend: RecipeBackend, kind: QueueLock) async throws {
        let handles = try Handles(backend)
        defer { Task { await handles.closeAll() } }
        let path = try Key("/join-found-earlier")
        let observer = try await handles.open()
        let store = SessionTurnsThenRemovalOutOfContactThenCreateLost(try await handles.open())

        let lease = try #require(try await kind.acquire(store, path, timeout: .seconds(10)), "the queue is free")
        #expect(store.createsMade == 2, "the session turned under the first join, and the acquisition joined again")
        #expect(store.failedDeletes == 1, "the first join's entry was left out of contact")
        try await lease.release()
        #expect(try await observer.children(of: path).isEmpty, "the release left no entry behind")

        try await expectLateEntryRemoved(landing: store.land, observer: observer, path: path, kind: kind)
    }
}

/// Wraps a store whose session reads as another one until its first create has been applied
/// (the session changed under that create); whose first delete then fails with `connectionLoss`,
/// the session reading as out of contact for longer than it can last (so the removal gives up,
/// the entry left in a session the server kept), until the second create: that one is not
/// applied but answered `connectionLoss`, and applied only when the test calls ``land()``.
final class SessionTurnsThenRemovalOutOfContactThenCreateLost: ForwardingStore {
    /// The removal out of contact and the lost create, as `lead`'s test has them.
    private let inner: ReleaseOutOfContactThenCreateLost
    private let creates = Mutex(0)

    init(_ base: any CoordinationStore) { inner = ReleaseOutOfContactThenCreateLost(base) }

    var base: any CoordinationStore { inner }
    var createsMade: Int { creates.withLock { $0 } }
    var failedDeletes: Int { inner.failedDeletes }

    var session: SessionEvent {
        let now = inner.session
        guard creates.withLock({ $0 == 0 }) else { return now }
        return SessionEvent(state: now.state, sessionID: now.sessionID + "-before", ttl: now.ttl, lastContact: now.lastContact)
    }

    func create(_ key: Key, value: [UInt8], mode: CreateMode) async throws -> Record {
        defer { creates.withLock { $0 += 1 } }
        return try await inner.create(key, value: value, mode: mode)
    }

    /// Applies the create held back.
    func land() async throws -> Record { try await inner.land() }
}
