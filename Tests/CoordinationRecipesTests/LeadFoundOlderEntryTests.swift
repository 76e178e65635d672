import Coordination
import CoordinationRecipes
import CoordinationTestSupport
import Synchronization
import Testing

/// `lead`'s campaigns share one marker, so a campaign whose create reply was lost may find an
/// entry an earlier campaign left (its release gave up out of contact, and the server kept the
/// session) and take it for its own, while its own create is still to land. That join was taken
/// as resolved and its session not noted: the create landing after `lead` returned stayed first
/// in line for nobody, and the election had no leader, for as long as the session lived.
@Suite(.serverLoadLimit) struct LeadFoundOlderEntryTests {
    @Test(arguments: RecipeBackend.all)
    func aLostCreateWhoseJoinTookAnOlderEntryIsRemovedAfterLead(backend: RecipeBackend) async throws {
        let handles = try Handles(backend)
        defer { Task { await handles.closeAll() } }
        let path = try Key("/lead-found-older")
        let observer = try await handles.open()
        let store = ReleaseOutOfContactThenCreateLost(try await handles.open())
        let campaigns = Shared(0)

        try await withDeadline("lead to lead twice and return", limit: .seconds(20)) {
            try await LeaderElection(store: store, path: path, identity: "a").lead { _ in
                let campaign = campaigns.withLock { count in
                    count += 1
                    return count
                }
                // The first leadership is lost: the next campaign follows, with the same marker.
                if campaign == 1 { throw RecipeError.sessionLost("lost (simulated)") }
            }
        }
        #expect(campaigns.withLock { $0 } == 2, "a second campaign led")
        #expect(store.failedDeletes == 1, "the first campaign's release gave up out of contact")
        #expect(try await observer.children(of: path).isEmpty, "lead left no entry behind")

        let stray = try await store.land()
        try await waitForEntries(observer, path, "the late entry \(stray.key.name) to be removed") { $0.isEmpty }
        let next = try await LeaderElection(store: observer, path: path, identity: "b").campaign(timeout: .zero)
        #expect(next != nil, "the next candidate leads at once")
        try await next?.release()
    }
}

/// Wraps a store whose first delete fails with `connectionLoss`, the session then reading as
/// out of contact for longer than it can last (so a removal gives up, the entry left in a
/// session the server kept), until the second create: that one is not applied but answered
/// `connectionLoss` (the outcome unknown to the caller), and applied only when the test calls
/// ``land()``.
final class ReleaseOutOfContactThenCreateLost: ForwardingStore {
    let base: any CoordinationStore
    private struct State {
        var deletes = 0
        var creates = 0
        var outOfContact = false
    }
    private let state = Mutex(State())
    private let held = HeldCreate()

    init(_ base: any CoordinationStore) { self.base = base }

    var failedDeletes: Int { state.withLock { min($0.deletes, 1) } }

    var session: SessionEvent {
        let now = base.session
        guard state.withLock({ $0.outOfContact }) else { return now }
        return SessionEvent(state: .suspended, sessionID: now.sessionID, ttl: now.ttl, lastContact: .now - .seconds(3600))
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

    func create(_ key: Key, value: [UInt8], mode: CreateMode) async throws -> Record {
        let holds = state.withLock { state in
            defer { state.creates += 1 }
            guard state.creates == 1 else { return false }
            state.outOfContact = false
            return true
        }
        guard holds else { return try await base.create(key, value: value, mode: mode) }
        try held.hold(key, value: value, mode: mode)
    }

    /// Applies the create held back.
    func land() async throws -> Record { try await held.land(in: base) }
}
