import Coordination
@testable import CoordinationRecipes
import CoordinationTestSupport
import Synchronization
import Testing

@Suite(.serverLoadLimit) struct LockTests {
    @Test(arguments: RecipeBackend.all)
    func mutualExclusionAcrossSessions(backend: RecipeBackend) async throws {
        let handles = try Handles(backend)
        defer { Task { await handles.closeAll() } }
        let path = try Key("/locks/counter")
        let shared = SharedCounter()
        let stores = try await (0..<3).asyncMap { _ in try await handles.open() }
        try await withDeadline("three contenders to take the lock twenty times each", limit: .seconds(60)) {
            try await withThrowingTaskGroup(of: Void.self) { group in
                for store in stores {
                    group.addTask {
                        let lock = Lock(store: store, path: path)
                        for _ in 0..<20 {
                            try await lock.withLock { lease in
                                let seen = shared.enter(token: lease.token)
                                // Read, let the others run, write: lost updates would show without the lock.
                                await Task.yield()
                                _ = try await store.exists(path)
                                shared.leave(writing: seen + 1)
                            }
                        }
                    }
                }
                try await group.waitForAll()
            }
        }
        let result = shared.state.withLock { $0 }
        #expect(result.counter == 60)
        #expect(result.maxHolders == 1)
        #expect(result.tokens == result.tokens.sorted() && Set(result.tokens).count == 60, "fencing tokens strictly increase")
    }

    @Test(arguments: RecipeBackend.all)
    func releaseWakesExactlyOneOfFiftyWaiters(backend: RecipeBackend) async throws {
        let handles = try Handles(backend)
        defer { Task { await handles.closeAll() } }
        let path = try Key("/locks/herd")
        let holderStore = try await handles.open()
        let holder = try #require(try await Lock(store: holderStore, path: path).acquire())

        let counting = CountingStore(try await handles.open())
        let (acquired, acquiredSignal) = AsyncStream<Int64>.makeStream()
        let waiters = Task {
            try await withThrowingTaskGroup(of: Void.self) { group in
                for _ in 0..<50 {
                    group.addTask {
                        let lease = try #require(try await Lock(store: counting, path: path).acquire())
                        acquiredSignal.yield(lease.token)
                        // Keep holding: only the first release is measured.
                    }
                }
                try await group.waitForAll()
            }
        }
        // Every waiter is queued and watching its predecessor once 50 watches have delivered their snapshot.
        try await withDeadline("50 waiters to arm their watches") { await counting.snapshots.reach(50) }
        #expect(counting.wakeups.current == 0)
        #expect(try await holderStore.children(of: path).count == 51)

        try await holder.release()
        let next = try await withDeadline("the next waiter to acquire") {
            var tokens = acquired.makeAsyncIterator()
            return try #require(await tokens.next())
        }
        #expect(counting.wakeups.current == 1, "one release, one waiter woken")
        #expect(next > holder.token)
        waiters.cancel()
        _ = try await outcome(of: waiters, "the cancelled waiters to end")
    }

    @Test(arguments: RecipeBackend.all)
    func tryLockTimesOutAndLeavesNoEntry(backend: RecipeBackend) async throws {
        let handles = try Handles(backend)
        defer { Task { await handles.closeAll() } }
        let path = try Key("/locks/busy")
        let a = try await handles.open()
        let b = try await handles.open()
        let held = try #require(try await Lock(store: a, path: path).acquire())
        let attempt = try await Lock(store: b, path: path).acquire(timeout: .milliseconds(200))
        #expect(attempt == nil)
        // withLock gives up with an error of its own, not the store's `timeout`: a busy lock is no slow store.
        await #expect(throws: RecipeError.notAcquired("lock /locks/busy was not acquired within 200ms")) {
            try await Lock(store: b, path: path).withLock(timeout: .milliseconds(200)) { _ in Issue.record("the body ran without the lock") }
        }
        let entries = try await a.children(of: path)
        #expect(entries == [held.key.name], "the timed-out attempt left no entry, and the holder's is there")
        try await held.release()
        let next = try #require(try await Lock(store: b, path: path).acquire(timeout: .seconds(5)))
        #expect(next.token > held.token)
    }

    /// The timeout used to cover the store's round trips too: a free lock was "not acquired
    /// within 1ms", and whether 10 ms sufficed depended on the backend.
    @Test(arguments: RecipeBackend.all)
    func zeroTimeoutTakesAFreeLockOnly(backend: RecipeBackend) async throws {
        let handles = try Handles(backend)
        defer { Task { await handles.closeAll() } }
        let path = try Key("/locks/try")
        let a = try await handles.open()
        let b = try await handles.open()
        let held = try #require(try await Lock(store: a, path: path).acquire(timeout: .zero), "a free lock is taken at once")
        #expect(try await Lock(store: b, path: path).acquire(timeout: .zero) == nil, "a busy one is not waited for")
        #expect(try await a.children(of: path) == [held.key.name], "the try left no entry")
        try await held.release()
    }

    /// A contender that gives up must not leave its entry behind when the store fails the
    /// delete: everyone queued after it would wait for as long as its process lives.
    @Test(arguments: RecipeBackend.all)
    func aTimedOutAttemptRemovesItsEntryThroughStoreErrors(backend: RecipeBackend) async throws {
        let handles = try Handles(backend)
        defer { Task { await handles.closeAll() } }
        let path = try Key("/locks/flaky")
        let a = try await handles.open()
        let b = FlakyStore(try await handles.open(), deletes: 3)
        let held = try #require(try await Lock(store: a, path: path).acquire())
        let attempt = try await Lock(store: b, path: path).acquire(timeout: .milliseconds(200))
        #expect(attempt == nil)
        #expect(b.failures == 3, "the first deletes of the entry failed")
        let entries = try await a.children(of: path)
        #expect(entries == [held.key.name], "the timed-out attempt's entry is gone all the same")
        try await held.release()
        let next = try #require(try await Lock(store: b, path: path).acquire(timeout: .seconds(5)), "nothing blocks the lock")
        #expect(next.token > held.token)
    }

    /// A time-out leaves a create's outcome unknown, as a lost reply does (contract clause 9): a
    /// queue entry that was made all the same is found again, not left to hold the lock for
    /// nobody while the session lives.
    @Test(arguments: RecipeBackend.all)
    func aJoinWhoseCreateTimedOutFindsItsEntry(backend: RecipeBackend) async throws {
        let handles = try Handles(backend)
        defer { Task { await handles.closeAll() } }
        let path = try Key("/locks/timed-out-join")
        let observer = try await handles.open()
        let flaky = FlakyStore(try await handles.open(), lostCreateReplies: 1, lostReplyError: .timeout)
        let lease = try #require(try await Lock(store: flaky, path: path).acquire(timeout: .seconds(10)))
        #expect(flaky.failures == 1, "the create's reply was lost")
        #expect(try await observer.children(of: path) == [lease.key.name], "one entry: the one the lease holds")
        try await lease.release()
        let next = try #require(try await Lock(store: observer, path: path).acquire(timeout: .seconds(5)), "nothing blocks the lock")
        #expect(next.token > lease.token)
    }

    /// A join whose create reply was lost and that then cannot look for its entry (the listing
    /// fails too) may fail, but must not leave the entry it may have made: it would hold the lock
    /// for nobody, for as long as the session lives.
    @Test(arguments: RecipeBackend.all)
    func aJoinThatCannotTellItsOutcomeLeavesNoEntry(backend: RecipeBackend) async throws {
        let handles = try Handles(backend)
        defer { Task { await handles.closeAll() } }
        let path = try Key("/locks/unknown-join")
        let observer = try await handles.open()
        let flaky = FlakyStore(try await handles.open(), listings: 1, lostCreateReplies: 1)
        do {
            if let lease = try await Lock(store: flaky, path: path).acquire(timeout: .seconds(10)) { try await lease.release() }
        } catch let error as CoordinationError where error.code == .connectionLoss {
            // Failing is allowed; leaving the entry behind is not.
        }
        #expect(flaky.failures == 2, "the create's reply was lost, then the listing failed")
        #expect(try await observer.children(of: path).isEmpty, "no entry is left behind")
        let next = try #require(try await Lock(store: observer, path: path).acquire(timeout: .seconds(5)), "nothing blocks the lock")
        #expect(next.token > 0)
    }

    /// A create whose reply was lost and which the join's search did not find yet lands after
    /// all (etcd may apply a write after reporting it lost): the join's second entry must not
    /// wait for its first one, and neither is left behind.
    @Test(arguments: RecipeBackend.all)
    func aJoinsLateLandingEntryDoesNotBlockIt(backend: RecipeBackend) async throws {
        let handles = try Handles(backend)
        defer { Task { await handles.closeAll() } }
        let path = try Key("/locks/late-landing")
        let observer = try await handles.open()
        let late = CreateSeenLate(try await handles.open())
        let lease = try #require(
            try await Lock(store: late, path: path).acquire(timeout: .seconds(10)), "acquired, not waiting for its own entry")
        #expect(late.hidden != nil, "the first create landed unseen")
        #expect(try await observer.children(of: path) == [lease.key.name], "the late entry is gone")
        try await lease.release()
        #expect(try await observer.children(of: path).isEmpty)
    }

    /// A caller cancelled while its acquirer is in a store call that does not heed cancellation
    /// gets no lease, or one it can release, and never a lease dropped on the floor: its entry
    /// would hold the lock for nobody for as long as the session lives.
    @Test(arguments: RecipeBackend.all)
    func aCancelledAcquireLeavesNoEntry(backend: RecipeBackend) async throws {
        let handles = try Handles(backend)
        defer { Task { await handles.closeAll() } }
        let path = try Key("/locks/cancelled")
        let observer = try await handles.open()
        let deaf = ListingDeafToCancellation(try await handles.open())
        let attempt = Task { try await Lock(store: deaf, path: path).acquire(timeout: .seconds(60)) }
        try await withDeadline("the acquirer to list the queue") { await deaf.listing() }
        attempt.cancel()
        if case .success(let lease?) = try await outcome(of: attempt, "the cancelled acquirer to end") { try await lease.release() }
        #expect(try await observer.children(of: path).isEmpty, "no entry is left behind")
    }

    /// A delete refused for good (no permission) is not retried: the end of `withLock` returns
    /// instead of hanging while the session lives.
    @Test(arguments: RecipeBackend.all)
    func aReleaseRefusedForGoodIsNotRetriedForever(backend: RecipeBackend) async throws {
        let handles = try Handles(backend)
        defer { Task { await handles.closeAll() } }
        let path = try Key("/locks/refused")
        let flaky = FlakyStore(try await handles.open(), deletes: .max, deleteError: .permissionDenied)
        let token = try await withDeadline("withLock to return") {
            try await Lock(store: flaky, path: path).withLock { $0.token }
        }
        #expect(token > 0)
        #expect(flaky.failures == 1, "one refused delete, not a retry loop")
    }

    /// Retrying the delete stops once the entry is surely gone with its session, so a release
    /// never hangs on a server that stays away.
    @Test func aLeavingContenderRetriesOnlyWhileItsSessionMayLive() {
        let now = ContinuousClock.now
        func event(_ state: SessionState, _ id: String = "s", contactAgo: Duration) -> SessionEvent {
            SessionEvent(state: state, sessionID: id, ttl: .seconds(2), lastContact: now - contactAgo)
        }
        #expect(SequentialQueue.mayStillHold(event(.connected, contactAgo: .seconds(60)), "s", now: now))
        #expect(SequentialQueue.mayStillHold(event(.reconnected, contactAgo: .seconds(60)), "s", now: now))
        #expect(SequentialQueue.mayStillHold(event(.suspended, contactAgo: .seconds(3)), "s", now: now))
        #expect(!SequentialQueue.mayStillHold(event(.suspended, contactAgo: .seconds(5)), "s", now: now))
        #expect(!SequentialQueue.mayStillHold(event(.connected, "new", contactAgo: .zero), "s", now: now))
        #expect(!SequentialQueue.mayStillHold(event(.expired, contactAgo: .zero), "s", now: now))
        #expect(!SequentialQueue.mayStillHold(event(.closed, contactAgo: .zero), "s", now: now))
    }

    @Test(arguments: RecipeBackend.all)
    func expiredHolderIsCancelledAndItsStaleTokenRejected(backend: RecipeBackend) async throws {
        let handles = try Handles(backend)
        defer { Task { await handles.closeAll() } }
        let path = try Key("/locks/fenced")
        let first = try await handles.open()
        let second = try await handles.open()
        let lock = Lock(store: first, path: path)

        let (entered, enteredSignal) = AsyncStream<LockLease>.makeStream()
        let body = Task {
            try await lock.withLock { lease in
                enteredSignal.yield(lease)
                try await Task.sleep(for: .seconds(3600))  // "work" that only ends by cancellation
            }
        }
        let stale = try await next(entered, "the holder to enter")
        try await backend.expire(first)
        let ended = try await outcome(of: body, "the holder to be told its session expired")
        #expect(throws: RecipeError.self) { try ended.get() }

        let fresh = try #require(try await Lock(store: second, path: path).acquire(timeout: .seconds(10)))
        #expect(fresh.token > stale.token)
        let target = try Key("/protected")
        await #expect(throws: RecipeError.notHeld(stale.key)) {
            try await stale.guardedTransaction([.create(target, value: [1], mode: .persistent)])
        }
        try await fresh.guardedTransaction([.create(target, value: [2], mode: .persistent)])
        #expect(try await second.get(target)?.value == [2])

        // A failure inside is numbered as the caller's operations, the lock's check left out,
        // in the index and the message alike.
        await #expect {
            try await fresh.guardedTransaction([.check(target, version: nil), .create(target, value: [3], mode: .persistent)])
        } throws: { error in
            guard let error = error as? CoordinationError else { return false }
            return error.code == .nodeExists && error.failedOperation == 1
                && error.message.hasPrefix("transaction operation 2 of 2 failed: ")
        }
    }
}

/// A counter incremented non-atomically (read, wait, write) inside the critical section.
final class SharedCounter: Sendable {
    struct State {
        var counter = 0
        var holders = 0
        var maxHolders = 0
        var tokens: [Int64] = []
    }
    let state = Mutex(State())

    func enter(token: Int64) -> Int {
        state.withLock { state in
            state.holders += 1
            state.maxHolders = max(state.maxHolders, state.holders)
            state.tokens.append(token)
            return state.counter
        }
    }

    func leave(writing value: Int) {
        state.withLock { state in
            state.counter = value
            state.holders -= 1
        }
    }
}

/// A store whose first listing answers only once its task is cancelled, as a call that does not
/// heed cancellation ends after it.
final class ListingDeafToCancellation: ForwardingStore {
    let base: any CoordinationStore
    private let state = Mutex<(started: Bool, waiters: [CheckedContinuation<Void, Never>], used: Bool)>((false, [], false))

    init(_ base: any CoordinationStore) { self.base = base }

    /// Returns once the first listing has started.
    func listing() async {
        await withCheckedContinuation { continuation in
            let now = state.withLock { state in
                if state.started { return true }
                state.waiters.append(continuation)
                return false
            }
            if now { continuation.resume() }
        }
    }

    func children(of key: Key) async throws -> [String] {
        let first = state.withLock { state in
            defer { state.used = true }
            return !state.used
        }
        guard first else { return try await base.children(of: key) }
        let names = try await base.children(of: key)
        let cancelled = AsyncStream<Void>.makeStream()
        await withTaskCancellationHandler {
            for waiter in state.withLock({ state in
                state.started = true
                defer { state.waiters = [] }
                return state.waiters
            }) { waiter.resume() }
            for await _ in cancelled.stream {}
        } onCancel: {
            cancelled.continuation.finish()
        }
        return names
    }
}

/// A store whose first create is applied but answered with `connectionLoss`, and whose next
/// listing does not show it yet, as a write applied after it was reported lost.
final class CreateSeenLate: ForwardingStore {
    let base: any CoordinationStore
    private let state = Mutex<(created: Bool, hidden: String?, listed: Bool)>((false, nil, false))

    init(_ base: any CoordinationStore) { self.base = base }

    /// The name of the entry the first create made.
    var hidden: String? { state.withLock { $0.hidden } }

    func create(_ key: Key, value: [UInt8], mode: CreateMode) async throws -> Record {
        let first = state.withLock { state in
            defer { state.created = true }
            return !state.created
        }
        let record = try await base.create(key, value: value, mode: mode)
        guard first else { return record }
        state.withLock { $0.hidden = record.key.name }
        throw CoordinationError(.connectionLoss, "reply lost (simulated)")
    }

    func children(of key: Key) async throws -> [String] {
        let names = try await base.children(of: key)
        let hide = state.withLock { state -> String? in
            guard let hidden = state.hidden, !state.listed else { return nil }
            state.listed = true
            return hidden
        }
        return names.filter { $0 != hide }
    }
}

extension LockTests {
    /// A join the session changed under is removed and made again; a create of it that lands
    /// late (ahead of the new entry) is removed too, as the acquisition's own, rather than left
    /// as an orphan ahead of everyone, the acquirer included.
    @Test(arguments: RecipeBackend.all)
    func aDiscardedJoinLandingLateBlocksNobody(backend: RecipeBackend) async throws {
        let handles = try Handles(backend)
        defer { Task { await handles.closeAll() } }
        let path = try Key("/locks/late")
        let observer = try await handles.open()
        let base = try await handles.open()
        let old = base.session
        try await backend.expire(base)
        let store = LateSessionStore(base, stale: old, firstCreateLandsTwice: true)
        let lease = try #require(try await Lock(store: store, path: path).acquire(timeout: .seconds(5)), "the lock is free")
        #expect(lease.sessionID == base.session.sessionID, "the lease names the session its entry belongs to")
        #expect(try await observer.children(of: path) == [lease.key.name], "one entry: the lease's")
        try await lease.release()
        #expect(try await observer.children(of: path).isEmpty)
    }
}

extension LockTests {
    /// A join's create whose reply was lost, not found by its search, lands after the acquirer
    /// was let in (etcd may apply a write after reporting it lost): an entry of the acquisition
    /// behind its lease. Releasing the lease (at the end of `withLock`, or by `release()`)
    /// removes it too: left, it blocked every contender that queued behind it for as long as the
    /// holder's session lived.
    @Test(arguments: RecipeBackend.all)
    func aJoinsEntryLandingAfterAdmissionGoesWithTheRelease(backend: RecipeBackend) async throws {
        let handles = try Handles(backend)
        defer { Task { await handles.closeAll() } }
        let path = try Key("/locks/landing-after-admission")
        let observer = try await handles.open()
        let base = try await handles.open()

        let throughWithLock = CreateLandingLate(base)
        try await Lock(store: throughWithLock, path: path).withLock { lease in
            let stray = try await throughWithLock.land()
            #expect(SequentialQueue.stem(of: stray.key.name) == SequentialQueue.stem(of: lease.key.name), "the late entry is the join's own")
            #expect(try await observer.children(of: path) == [lease.key.name, stray.key.name])
        }
        #expect(try await observer.children(of: path).isEmpty, "withLock left no entry behind")

        let throughRelease = CreateLandingLate(base)
        let lease = try #require(try await Lock(store: throughRelease, path: path).acquire(timeout: .seconds(10)))
        _ = try await throughRelease.land()
        try await lease.release()
        #expect(try await observer.children(of: path).isEmpty, "release() left no entry behind")
        let next = try await Lock(store: observer, path: path).acquire(timeout: .zero)
        #expect(next != nil, "the lock is free")
        try await next?.release()
    }
}

/// Wraps a store whose first create is not applied but answered `connectionLoss` (the outcome
/// unknown to the caller), and applied only when the test calls ``land()``: a write the server
/// applies after a later one.
final class CreateLandingLate: ForwardingStore {
    let base: any CoordinationStore
    private let taken = Mutex(false)
    private let held = HeldCreate()

    init(_ base: any CoordinationStore) { self.base = base }

    /// Whether the first create was asked for (and held back).
    var heldACreate: Bool { taken.withLock { $0 } }

    func create(_ key: Key, value: [UInt8], mode: CreateMode) async throws -> Record {
        let first = taken.withLock { taken in
            defer { taken = true }
            return !taken
        }
        guard first else { return try await base.create(key, value: value, mode: mode) }
        try held.hold(key, value: value, mode: mode)
    }

    /// Applies the create held back.
    func land() async throws -> Record { try await held.land(in: base) }
}

extension LockTests {
    /// An acquisition that gives up (here cancelled) while a create of its join lands late, behind
    /// its entry, removes that entry too: left, it blocked everyone who queued behind it for as
    /// long as the session lived.
    @Test(arguments: RecipeBackend.all)
    func aGivenUpAcquisitionRemovesItsJoinsLateEntry(backend: RecipeBackend) async throws {
        let handles = try Handles(backend)
        defer { Task { await handles.closeAll() } }
        let path = try Key("/locks/given-up-late")
        let observer = try await handles.open()
        let holder = try #require(try await Lock(store: observer, path: path).acquire(timeout: .zero), "the lock is free")
        let late = CreateLandingLate(try await handles.open())
        let waiting = Task { try await Lock(store: late, path: path).acquire() }
        try await waitForEntries(observer, path, count: 2)
        let stray = try await late.land()
        waiting.cancel()
        if case .success(let lease?) = try await outcome(of: waiting, "the cancelled waiter to end") { try await lease.release() }
        #expect(try await observer.children(of: path) == [holder.key.name], "only the holder's entry is left, not \(stray.key.name)")
        try await holder.release()
    }
}
