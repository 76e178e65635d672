import Coordination
import CoordinationRecipes
import CoordinationTestSupport
import Synchronization
import Testing

/// When the session changed under a join, its entry is removed and the join made again; only
/// the last join's word on whether a create of it may still land was kept. A discarded join
/// that lost two create replies in the new session, finding the entry of the second, left the
/// first still to land; the join made again, its create answered, said nothing could land, so
/// the release swept nothing: the discarded join's create landing after it stayed in line for
/// nobody, ahead of everyone, for as long as the session lived.
@Suite(.serverLoadLimit) struct DiscardedJoinLateCreateTests {
    @Test(arguments: RecipeBackend.all, QueueLock.allCases)
    func aDiscardedJoinsCreateLandingAfterTheReleaseIsRemoved(backend: RecipeBackend, kind: QueueLock) async throws {
        let handles = try Handles(backend)
        defer { Task { await handles.closeAll() } }
        let path = try Key("/discarded-join-late")
        let observer = try await handles.open()
        let store = SessionTurnsThenTwoCreatesLost(try await handles.open())

        let lease = try #require(try await kind.acquire(store, path, timeout: .seconds(10)), "the queue is free")
        #expect(store.createsMade == 3, "two creates of the discarded join, one of the join made again")
        try await lease.release()
        #expect(try await observer.children(of: path).isEmpty, "the release left no entry behind")

        try await expectLateEntryRemoved(landing: store.land, observer: observer, path: path, kind: kind)
    }
}

/// Wraps a store whose session reads as another one until its first create is asked for (the
/// session turned under the join making it). That create is not applied but answered
/// `connectionLoss`, and applied only when the test calls ``land()``; the second is applied but
/// answered `connectionLoss` too (its join finds it); later ones pass.
final class SessionTurnsThenTwoCreatesLost: ForwardingStore {
    let base: any CoordinationStore
    private struct State {
        var creates = 0
    }
    private let state = Mutex(State())
    private let held = HeldCreate()

    init(_ base: any CoordinationStore) { self.base = base }

    var createsMade: Int { state.withLock { $0.creates } }

    var session: SessionEvent {
        let now = base.session
        guard state.withLock({ $0.creates == 0 }) else { return now }
        return SessionEvent(state: now.state, sessionID: now.sessionID + "-before", ttl: now.ttl, lastContact: now.lastContact)
    }

    func create(_ key: Key, value: [UInt8], mode: CreateMode) async throws -> Record {
        let number = state.withLock { state in
            defer { state.creates += 1 }
            return state.creates
        }
        switch number {
        case 0:
            try held.hold(key, value: value, mode: mode)
        case 1:
            _ = try await base.create(key, value: value, mode: mode)
            throw CoordinationError(.connectionLoss, "reply lost (simulated); the create was applied", key: key)
        default:
            return try await base.create(key, value: value, mode: mode)
        }
    }

    /// Applies the create held back.
    func land() async throws -> Record { try await held.land(in: base) }
}
