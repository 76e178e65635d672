import Coordination
import CoordinationRecipes
import CoordinationTestSupport
import Synchronization
import Testing

/// A stem added to a running late-entry sweep is looked for once in a listing, and then left to
/// that sweep. When the sweep ended on a failure that will not pass (its watch refused) after
/// the stem was added but before the sweep had looked for it, the stem had that one listing
/// only: its create landing afterwards stayed in line for nobody, ahead of everyone, for as long
/// as the session lived. Such a stem is handed to a fresh sweep.
@Suite(.serverLoadLimit) struct SweepEndingOnRefusalTests {
    @Test(arguments: RecipeBackend.all)
    func aStemTheEndingSweepNeverLookedForGoesToAFreshSweep(backend: RecipeBackend) async throws {
        let handles = try Handles(backend)
        defer { Task { await handles.closeAll() } }
        let path = try Key("/sweep-refused")
        let observer = try await handles.open()
        let store = CreatesHeldWatchRefused(try await handles.open(), holding: [0, 2])

        // The first acquisition's release starts the session's sweep: a create of its join may land.
        let first = try #require(try await Lock(store: store, path: path).acquire(timeout: .seconds(10)), "the lock is free")
        try await first.release()
        try await withDeadline("the sweep's watch to be armed") { await store.snapshots.reach(1) }

        // The second one's release adds its stem to that sweep, whose watch is refused at the
        // deletion that release makes, before the sweep looks for the stem.
        let second = try #require(try await Lock(store: store, path: path).acquire(timeout: .seconds(10)), "the lock is free")
        // Nothing is left for the sweep to look at before the release adds the stem.
        try await withDeadline("the sweep to deal with the second entry") { await store.waitUntilProcessed(putOf: second.key) }
        let listingsBefore = store.listings.current
        store.refuseWatches(atDeletionOf: second.key)
        try await second.release()
        try await withDeadline("the sweep's watch to be refused") { await store.refusals.reach(1) }
        // The release's own listing and the one the stem was given when added: neither can see
        // the create that lands next.
        try await withDeadline("the release's listings") { await store.listings.reach(listingsBefore + 2) }

        let stray = try await store.land(2)
        try await waitForEntries(observer, path, "the late entry \(stray.key.name) to be removed") { $0.isEmpty }
        let next = try await Lock(store: observer, path: path).acquire(timeout: .zero)
        #expect(next != nil, "the next contender is let in at once")
        try await next?.release()
    }
}

/// Wraps a store whose creates numbered in `holding` (from 0) are not applied but answered
/// `connectionLoss` (the outcome unknown to the caller), each applied only when the test calls
/// ``land(_:)``; and whose watches, when told, fail with `permissionDenied` (a failure that will
/// not pass) instead of delivering the deletion of one key. Counts the snapshots its watches
/// deliver (a watch armed), the watches refused, and the listings of children, and tells which
/// creations a watch's consumer has dealt with.
final class CreatesHeldWatchRefused: ForwardingStore {
    let base: any CoordinationStore
    let snapshots = Broadcast(0)
    let refusals = Broadcast(0)
    let listings = Broadcast(0)
    private let processedPuts = Broadcast(Set<Key>())
    private let holding: Set<Int>
    private struct State {
        var creates = 0
        var held: [Int: (key: Key, value: [UInt8], mode: CreateMode)] = [:]
        var refusedDeletion: Key?
    }
    private let state = Mutex(State())

    init(_ base: any CoordinationStore, holding: Set<Int>) {
        self.base = base
        self.holding = holding
    }

    func create(_ key: Key, value: [UInt8], mode: CreateMode) async throws -> Record {
        let holds = state.withLock { state in
            defer { state.creates += 1 }
            guard holding.contains(state.creates) else { return false }
            state.held[state.creates] = (key, value, mode)
            return true
        }
        guard holds else { return try await base.create(key, value: value, mode: mode) }
        throw CoordinationError(.connectionLoss, "reply lost (simulated); the create is applied later", key: key)
    }

    func children(of key: Key) async throws -> [String] {
        defer { listings.update { $0 += 1 } }
        return try await base.children(of: key)
    }

    /// The next watch event deleting `key` is a `permissionDenied` failure instead.
    func refuseWatches(atDeletionOf key: Key) {
        state.withLock { $0.refusedDeletion = key }
    }

    /// Delivers each event only when the consumer asks for it, so that asking for the next one
    /// tells the previous one was dealt with (``processedPuts``).
    func watch(_ key: Key, scope: WatchScope) -> AsyncThrowingStream<WatchEvent, any Error> {
        let source = EventSource(base.watch(key, scope: scope))
        return AsyncThrowingStream { [self] in
            if case .put(let record)? = source.delivered { processedPuts.update { $0.insert(record.key) } }
            guard let event = try await source.next() else { return nil }
            switch event {
            case .snapshot: snapshots.update { $0 += 1 }
            case .delete(let deleted) where takeRefusal(of: deleted):
                refusals.update { $0 += 1 }
                throw CoordinationError(.permissionDenied, "watch refused (simulated)", key: deleted)
            case .put, .delete: break
            }
            return event
        }
    }

    /// Waits until a watch's consumer has dealt with the creation of `key` (asked for the next event).
    func waitUntilProcessed(putOf key: Key) async {
        for await keys in processedPuts.subscribe() where keys.contains(key) { return }
    }

    /// Whether the deletion of `key` is the one to refuse (once).
    private func takeRefusal(of key: Key) -> Bool {
        state.withLock { state in
            guard state.refusedDeletion == key else { return false }
            state.refusedDeletion = nil
            return true
        }
    }

    /// Applies the create numbered `number`, held back.
    func land(_ number: Int) async throws -> Record {
        let create = try #require(state.withLock { $0.held[number] }, "create \(number) was held back")
        return try await base.create(create.key, value: create.value, mode: create.mode)
    }
}

/// One watch's events, pulled one at a time by the stream's consumer.
/// `@unchecked Sendable`: only that consumer calls ``next()``, one call at a time (an
/// `AsyncThrowingStream` has one consumer, and it awaits each element before asking again).
private final class EventSource: @unchecked Sendable {
    private var iterator: AsyncThrowingStream<WatchEvent, any Error>.AsyncIterator
    /// The event last handed to the consumer.
    private(set) var delivered: WatchEvent?

    init(_ upstream: AsyncThrowingStream<WatchEvent, any Error>) { iterator = upstream.makeAsyncIterator() }

    func next() async throws -> WatchEvent? {
        delivered = try await iterator.next()
        return delivered
    }
}
