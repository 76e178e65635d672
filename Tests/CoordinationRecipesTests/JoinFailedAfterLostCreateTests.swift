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
        let stray = try await store.land()
        try await waitForEntries(observer, path, "the late entry \(stray.key.name) to be removed") { $0.isEmpty }
        let next = try await kind.acquire(observer, path, timeout: .zero)
        #expect(next != nil, "the next contender is let in at once")
        try await next?.release()
    }
}

/// Wraps a store whose first create is not applied but answered `connectionLoss` (the outcome
/// unknown to the caller), and applied only when the test calls ``land()``; the listing that
/// follows it fails with `connectionLoss` too, as contact is still lost; later ones pass.
final class CreateLostThenListingFails: ForwardingStore {
    let base: any CoordinationStore
    private struct State {
        var creates = 0
        var listings = 0
        var held: (key: Key, value: [UInt8], mode: CreateMode)?
    }
    private let state = Mutex(State())

    init(_ base: any CoordinationStore) { self.base = base }

    func create(_ key: Key, value: [UInt8], mode: CreateMode) async throws -> Record {
        let holds = state.withLock { state in
            defer { state.creates += 1 }
            guard state.creates == 0 else { return false }
            state.held = (key, value, mode)
            return true
        }
        guard holds else { return try await base.create(key, value: value, mode: mode) }
        throw CoordinationError(.connectionLoss, "reply lost (simulated); the create is applied later", key: key)
    }

    func children(of key: Key) async throws -> [String] {
        let fails = state.withLock { state in
            defer { if state.held != nil { state.listings += 1 } }
            return state.held != nil && state.listings == 0
        }
        if fails { throw CoordinationError(.connectionLoss, "still out of contact (simulated)", key: key) }
        return try await base.children(of: key)
    }

    /// Applies the create held back.
    func land() async throws -> Record {
        let create = try #require(state.withLock { $0.held }, "a create was held back")
        return try await base.create(create.key, value: create.value, mode: create.mode)
    }
}
