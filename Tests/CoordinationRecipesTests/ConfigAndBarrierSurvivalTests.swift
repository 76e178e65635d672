import Coordination
import CoordinationRecipes
import CoordinationTestSupport
import Synchronization
import Testing

@Suite(.serverLoadLimit) struct ConfigAndBarrierSurvivalTests {
    struct Settings: Codable, Sendable, Equatable {
        var rate: Int
    }

    /// The stream survives a deleted key (it says `nil`, then follows the key again), a bad value
    /// (skipped: the last good value stays) and an expiry of its session (it picks up what
    /// changed meanwhile, without repeating what it already said).
    @Test(arguments: RecipeBackend.all)
    func configWatchSurvivesDeletionBadValuesAndExpiry(backend: RecipeBackend) async throws {
        let handles = try Handles(backend)
        defer { Task { await handles.closeAll() } }
        let key = try Key("/config/app")
        let watching = try await handles.open()
        let writer = ConfigWatch(store: try await handles.open(), key: key, as: Settings.self)
        try await writer.publish(Settings(rate: 1))
        let values = ConfigWatch(store: watching, key: key, as: Settings.self).values()
        #expect(try await next(values, "the first value") == Settings(rate: 1))
        try await writer.store.delete(key)
        #expect(try await next(values, "the deletion") == nil, "a deleted key reads as absent")
        _ = try await writer.store.create(key, value: Array("[1,2".utf8), mode: .persistent)
        try await writer.publish(Settings(rate: 2))
        #expect(try await next(values, "the good value after a bad one") == Settings(rate: 2), "the bad value was skipped, the stream went on")
        #expect(try await writer.current() == Settings(rate: 2))

        try await backend.expire(watching)
        try await writer.publish(Settings(rate: 3))
        #expect(try await next(values, "the value published after the watcher's session expired") == Settings(rate: 3),
                "after the expiry: the new value, not the old one again")
        try await writer.publish(Settings(rate: 4))
        #expect(try await next(values, "the next value after the expiry") == Settings(rate: 4))
    }

    /// A value that does not decode from the start is not passed on: the first value said is
    /// the first good one.
    @Test(arguments: RecipeBackend.all)
    func configWatchStartingOnABadValueWaitsForAGoodOne(backend: RecipeBackend) async throws {
        let handles = try Handles(backend)
        defer { Task { await handles.closeAll() } }
        let key = try Key("/config/app")
        let store = try await handles.open()
        _ = try await store.create(key, value: Array("{\"rate\":\"fast\"}".utf8), mode: .persistent)
        let config = ConfigWatch(store: store, key: key, as: Settings.self)
        await #expect(throws: DecodingError.self) { try await config.current() }
        let values = config.values()
        try await config.publish(Settings(rate: 5))
        #expect(try await next(values, "the first good value") == Settings(rate: 5))
    }

    /// Reading a value that does not decode throws an error that names the key to fix.
    @Test(arguments: RecipeBackend.all)
    func aValueThatDoesNotDecodeIsReportedWithItsKey(backend: RecipeBackend) async throws {
        let handles = try Handles(backend)
        defer { Task { await handles.closeAll() } }
        let key = try Key("/config/app")
        let store = try await handles.open()
        let config = ConfigWatch(store: store, key: key, as: Settings.self)
        for bad in ["{\"rate\":\"fast\"}", "{}", "[1,2"] {
            _ = try await store.put(key, value: Array(bad.utf8))
            await #expect {
                try await config.current()
            } throws: { error in
                error is DecodingError && "\(error)".contains("the value of /config/app (written at revision")
                    && "\(error)".contains("publish a valid one")
            }
        }
    }

    /// A barrier's waiter whose session expires keeps waiting, and is released when the barrier
    /// is lowered, even if that happened while it was out of contact.
    @Test(arguments: RecipeBackend.all)
    func barrierWaiterSurvivesAnExpiry(backend: RecipeBackend) async throws {
        let handles = try Handles(backend)
        defer { Task { await handles.closeAll() } }
        let gate = try Key("/gate")
        let owner = Barrier(store: try await handles.open(), key: gate)
        try await owner.raise()
        try await owner.raise()
        let counting = CountingStore(try await handles.open())
        let waiter = Task { try await Barrier(store: counting, key: gate).wait() }
        try await withDeadline("the waiter to watch") { await counting.snapshots.reach(1) }
        try await backend.expire(counting.base)
        try await owner.lower()
        try await outcome(of: waiter, "the waiter").get()
        try await owner.lower()
    }

    /// Increments that all read the same value race to write it: one wins, the others find their
    /// write refused and try again, and none is lost.
    @Test(arguments: RecipeBackend.all)
    func counterIncrementsThatCollideAreNeverLost(backend: RecipeBackend) async throws {
        let handles = try Handles(backend)
        defer { Task { await handles.closeAll() } }
        let key = try Key("/counter")
        _ = try await Counter(store: try await handles.open(), key: key).add(10)
        let writers = 4
        let gate = ReadTogether(parties: writers)
        var stores: [CollidingStore] = []
        for _ in 0..<writers { stores.append(CollidingStore(try await handles.open(), gate: gate)) }
        let results = try await withDeadline("the colliding increments") { [stores] in
            try await withThrowingTaskGroup(of: Int64.self) { group in
                for store in stores { group.addTask { try await Counter(store: store, key: key).add(1) } }
                return try await group.reduce(into: []) { $0.append($1) }
            }
        }
        #expect(results.sorted() == [11, 12, 13, 14], "each increment saw its own result")
        #expect(try await Counter(store: try await handles.open(), key: key).value() == 14)
        #expect(stores.map(\.conflicts).reduce(0, +) >= writers - 1, "all but one lost the first race and tried again")
    }

    /// Increments from many handles at once, each retrying on conflicts, are never lost, and a
    /// value that is not an integer is refused rather than overwritten.
    @Test(arguments: RecipeBackend.all)
    func counterRefusesANonInteger(backend: RecipeBackend) async throws {
        let handles = try Handles(backend)
        defer { Task { await handles.closeAll() } }
        let store = try await handles.open()
        let key = try Key("/counter")
        let counter = Counter(store: store, key: key)
        #expect(try await counter.add(5) == 5)
        #expect(try await counter.add(-7) == -2)
        _ = try await store.set(key, string: "seven")
        await #expect(throws: CoordinationError.self) { try await counter.add(1) }
        #expect(try await store.get(key)?.string == "seven", "left as it was")
        _ = try await store.set(key, string: String(Int64.max))
        await #expect(throws: CoordinationError.self) { try await counter.add(1) }
        #expect(try await counter.value() == Int64.max)
    }
}

/// Holds the first read of each of `parties` stores until all of them have read, so that they
/// all act on the same value.
final class ReadTogether: Sendable {
    private let state: Mutex<(arrived: Int, waiting: [CheckedContinuation<Void, Never>])>
    private let parties: Int

    init(parties: Int) {
        self.parties = parties
        state = Mutex((0, []))
    }

    func arrive() async {
        await withCheckedContinuation { continuation in
            let release = state.withLock { state -> [CheckedContinuation<Void, Never>] in
                state.arrived += 1
                state.waiting.append(continuation)
                guard state.arrived == parties else { return [] }
                defer { state.waiting = [] }
                return state.waiting
            }
            for waiter in release { waiter.resume() }
        }
    }
}

/// A store whose first read waits for the other writers' (``ReadTogether``) and that counts its
/// conditional writes refused by a conflict.
final class CollidingStore: ForwardingStore {
    let base: any CoordinationStore
    private let gate: ReadTogether
    private let state = Mutex((read: false, conflicts: 0))

    init(_ base: any CoordinationStore, gate: ReadTogether) {
        self.base = base
        self.gate = gate
    }

    var conflicts: Int { state.withLock { $0.conflicts } }

    func get(_ key: Key) async throws -> Record? {
        let record = try await base.get(key)
        let first = state.withLock { state in
            defer { state.read = true }
            return !state.read
        }
        if first { await gate.arrive() }
        return record
    }

    func set(_ key: Key, value: [UInt8], ifVersion: Int64?) async throws -> Record {
        do {
            return try await base.set(key, value: value, ifVersion: ifVersion)
        } catch let error as CoordinationError where error.code == .versionConflict {
            state.withLock { $0.conflicts += 1 }
            throw error
        }
    }
}
