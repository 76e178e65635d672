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
    let base: any CoordinationStore
    private struct State {
        var creates = 0
        var deletes = 0
        var outOfContact = false
    }
    private let state = Mutex(State())
    private let held = HeldCreate()

    init(_ base: any CoordinationStore) { self.base = base }

    var createsMade: Int { state.withLock { $0.creates } }
    var failedDeletes: Int { state.withLock { min($0.deletes, 1) } }

    var session: SessionEvent {
        let now = base.session
        let (creates, outOfContact) = state.withLock { ($0.creates, $0.outOfContact) }
        if creates == 0 {
            return SessionEvent(state: now.state, sessionID: now.sessionID + "-before", ttl: now.ttl, lastContact: now.lastContact)
        }
        guard outOfContact else { return now }
        return SessionEvent(state: .suspended, sessionID: now.sessionID, ttl: now.ttl, lastContact: .now - .seconds(3600))
    }

    func create(_ key: Key, value: [UInt8], mode: CreateMode) async throws -> Record {
        let first = state.withLock { $0.creates == 0 }
        if first {
            let record = try await base.create(key, value: value, mode: mode)
            state.withLock { $0.creates += 1 }
            return record
        }
        let holds = state.withLock { state in
            defer { state.creates += 1 }
            guard state.creates == 1 else { return false }
            state.outOfContact = false
            return true
        }
        guard holds else { return try await base.create(key, value: value, mode: mode) }
        try held.hold(key, value: value, mode: mode)
    }

    func delete(_ key: Key, ifVersion: Int64?, recursive: Bool) async throws {
        let first = state.withLock { state in
            defer { state.deletes += 1 }
            if state.deletes == 0 { state.outOfContact = true }
            return state.deletes == 0
        }
        if first { throw CoordinationError(.connectionLoss, "out of contact (simulated)", key: key) }
        try await base.delete(key, ifVersion: ifVersion, recursive: recursive)
    }

    /// Applies the create held back.
    func land() async throws -> Record { try await held.land(in: base) }
}
