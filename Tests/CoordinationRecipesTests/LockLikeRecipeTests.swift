import Coordination
import CoordinationRecipes
import CoordinationTestSupport
import Synchronization
import Testing

/// The lock-like recipes other than ``Lock`` (a semaphore's permit, a read lock, a write lock)
/// share its queue and its session guard; these tests hold each of them to what `Lock` promises.
enum LockLike: String, CaseIterable, Sendable, CustomTestStringConvertible {
    case permit, read, write

    var testDescription: String { rawValue }

    /// Runs `body` holding this kind of lease (a semaphore of one permit).
    func with<T: Sendable>(
        _ store: any CoordinationStore, _ path: Key, timeout: Duration? = nil,
        _ body: @escaping @Sendable (LockLease) async throws -> T
    ) async throws -> T {
        switch self {
        case .permit: try await Semaphore(store: store, path: path, permits: 1).withPermit(timeout: timeout, body)
        case .read: try await ReadWriteLock(store: store, path: path).withReadLock(timeout: timeout, body)
        case .write: try await ReadWriteLock(store: store, path: path).withWriteLock(timeout: timeout, body)
        }
    }

    func acquire(_ store: any CoordinationStore, _ path: Key, timeout: Duration? = nil) async throws -> LockLease? {
        switch self {
        case .permit: try await Semaphore(store: store, path: path, permits: 1).acquire(timeout: timeout)
        case .read: try await ReadWriteLock(store: store, path: path).acquireRead(timeout: timeout)
        case .write: try await ReadWriteLock(store: store, path: path).acquireWrite(timeout: timeout)
        }
    }

    /// A lease that excludes this kind (and that this kind excludes): another permit of the one,
    /// a write lock for either side of a read-write lock.
    func rival(_ store: any CoordinationStore, _ path: Key, timeout: Duration? = nil) async throws -> LockLease? {
        switch self {
        case .permit: try await Semaphore(store: store, path: path, permits: 1).acquire(timeout: timeout)
        case .read, .write: try await ReadWriteLock(store: store, path: path).acquireWrite(timeout: timeout)
        }
    }

    var what: String {
        switch self {
        case .permit: "a permit of semaphore"
        case .read: "read lock"
        case .write: "write lock"
        }
    }
}

/// Waits (on the queue's own events) until `path` has `count` entries.
func waitForEntries(_ store: any CoordinationStore, _ path: Key, count: Int) async throws {
    try await waitForEntries(store, path, "\(count) entries under \(path)") { $0.count == count }
}

/// ``waitForEntries(_:_:count:)`` while `task` (the one that should add an entry and then wait)
/// runs: should it end first, the failure says how it ended, where a bare wait only timed out
/// (seen once on etcd in a loaded CI run, with nothing to tell whether the entry was never made).
func waitForEntries<T: Sendable>(
    _ store: any CoordinationStore, _ path: Key, count: Int, unlessEnded task: Task<T, any Error>, _ what: String
) async throws {
    let (ended, endedSink) = AsyncStream<String>.makeStream()
    // Only reports the task's end: awaiting it is not cancelled with the wait, and the task runs on.
    Task {
        endedSink.yield("\(await task.result)")
        endedSink.finish()
    }
    try await withThrowingTaskGroup(of: String?.self) { group in
        group.addTask {
            try await waitForEntries(store, path, count: count)
            return nil
        }
        group.addTask {
            for await how in ended { return how }
            return nil
        }
        defer { group.cancelAll() }
        let how: String?
        do {
            how = try await group.next() ?? nil
        } catch var error as EntriesNotSeen {
            error.meanwhile = "\(what) had not ended"
            throw error
        }
        if let how {
            Issue.record("\(what) ended before \(count) entries were under \(path): \(how)")
            throw CancellationError()
        }
    }
}

/// Waits until the names of `path`'s children satisfy `condition`, as the store's watch sees them.
///
/// A wait that times out says what the watch last showed (or that it showed nothing yet) and
/// what a listing of `path` in the store shows then, so that a recurrence tells an entry never
/// made (or gone) from one the watch did not deliver: a bare time-out on etcd in a loaded CI run
/// told neither. A watch that ends before the condition holds fails the wait (``StreamEnded``).
func waitForEntries(
    _ store: any CoordinationStore, _ path: Key, _ what: String? = nil, until condition: @escaping @Sendable (Set<String>) -> Bool
) async throws {
    let what = what ?? "the entries under \(path) to change"
    // `nil` until the watch's first snapshot.
    let seen = Shared<Set<String>?>(nil)
    do {
        try await withDeadline(what) {
            var records: [Key: Record] = [:]
            for try await event in store.watch(path, scope: .subtree) {
                records.apply(event)
                let names = Set(records.keys.filter { $0.parent == path }.map(\.name))
                seen.withLock { $0 = names }
                if condition(names) { return }
            }
            throw StreamEnded(what: what)
        }
    } catch let error as CoordinationError where error.code == .timeout {
        let watched = seen.withLock { $0 }.map { "showed \($0.sorted())" } ?? "delivered no snapshot"
        throw EntriesNotSeen(waitedFor: error.message, watched: watched, listed: await listing(of: path, in: store))
    }
}

/// A wait for the entries under a key that timed out, with what the watch and a listing showed.
struct EntriesNotSeen: Error, CustomStringConvertible {
    let waitedFor: String
    let watched: String
    let listed: String
    /// What else the waiter knows of the moment (a task that was to add an entry had not ended).
    var meanwhile: String?
    var description: String {
        "\(waitedFor); the watch \(watched); the store then listed \(listed)" + (meanwhile.map { "; \($0)" } ?? "")
    }
}

/// `path`'s children as the store lists them, or why it could not list them within a few seconds.
private func listing(of path: Key, in store: any CoordinationStore) async -> String {
    do {
        return "\(try await withDeadline("a listing of \(path)", limit: .seconds(5)) { try await store.children(of: path) })"
    } catch {
        return "nothing (\(error))"
    }
}

/// Wraps a store and, when told, reports its session suspended since `lastContact`, as a handle
/// that lost contact with its server does, while the server (and `base`) still hold the session;
/// and, when told, reconnected to it again. With `failsCallsWhileSuspended`, it is cut off too:
/// while suspended, every read and write fails with `connectionLoss`.
final class SuspendableStore: ForwardingStore {
    let base: any CoordinationStore
    private let injected = Broadcast<SessionEvent?>(nil)
    private let failsCallsWhileSuspended: Bool
    private let cut = Atomic<Bool>(false)
    /// How many session streams were asked for: each wait on the session is one.
    let subscriptions = Broadcast(0)
    /// How many of them are still open (their reader has neither ended nor let go of them).
    let openSubscriptions = Broadcast(0)
    /// How many watches were asked for: a waiter in a queue asks for one once it waits.
    let watches = Broadcast(0)

    init(_ base: any CoordinationStore, failsCallsWhileSuspended: Bool = false) {
        self.base = base
        self.failsCallsWhileSuspended = failsCallsWhileSuspended
    }

    /// Held while an injected event is sent and while a real one is passed on, so that a real
    /// event read before the first injection cannot reach a stream after it: a late `connected`
    /// behind an injected `suspended` had a session guard disarm its deadline, and a leader
    /// never stepped down (seen once under load).
    private let order = Mutex(())

    func suspend(lastContact: ContinuousClock.Instant) {
        let now = base.session
        cut.store(failsCallsWhileSuspended, ordering: .sequentiallyConsistent)
        order.withLock { _ in
            injected.send(SessionEvent(state: .suspended, sessionID: now.sessionID, ttl: now.ttl, lastContact: lastContact))
        }
    }

    /// Reports contact regained in the same session (the server still held it), as `reconnected`.
    func resume() {
        let now = base.session
        cut.store(false, ordering: .sequentiallyConsistent)
        order.withLock { _ in
            injected.send(SessionEvent(state: .reconnected, sessionID: now.sessionID, ttl: now.ttl, lastContact: .now))
        }
    }

    private func pass() throws {
        if cut.load(ordering: .sequentiallyConsistent) { throw CoordinationError(.connectionLoss, "cut off (simulated)") }
    }

    var session: SessionEvent { injected.current ?? base.session }

    func sessionEvents() -> AsyncStream<SessionEvent> {
        subscriptions.update { $0 += 1 }
        openSubscriptions.update { $0 += 1 }
        let (stream, continuation) = AsyncStream<SessionEvent>.makeStream()
        let injected = injected
        let base = base
        let real = Task { [self] in
            for await event in base.sessionEvents() {
                order.withLock { _ in if injected.current == nil { continuation.yield(event) } }
            }
            // The handle closed: so does this stream, whatever was injected.
            continuation.finish()
        }
        let fake = Task {
            for await event in injected.subscribe() { if let event { continuation.yield(event) } }
        }
        let openSubscriptions = openSubscriptions
        continuation.onTermination = { _ in
            real.cancel()
            fake.cancel()
            openSubscriptions.update { $0 -= 1 }
        }
        return stream
    }

    func get(_ key: Key) async throws -> Record? {
        try pass()
        return try await base.get(key)
    }

    func create(_ key: Key, value: [UInt8], mode: CreateMode) async throws -> Record {
        try pass()
        return try await base.create(key, value: value, mode: mode)
    }

    func delete(_ key: Key, ifVersion: Int64?, recursive: Bool) async throws {
        try pass()
        try await base.delete(key, ifVersion: ifVersion, recursive: recursive)
    }

    func transaction(_ operations: [Coordination.Operation]) async throws -> [OperationResult] {
        try pass()
        return try await base.transaction(operations)
    }

    func children(of key: Key) async throws -> [String] {
        try pass()
        return try await base.children(of: key)
    }

    func watch(_ key: Key, scope: WatchScope) -> AsyncThrowingStream<WatchEvent, any Error> {
        watches.update { $0 += 1 }
        return base.watch(key, scope: scope)
    }
}

/// The outcome of `task`, cancelling it (and failing) if it takes longer than `limit`: a bare
/// `await task.result` inside ``withDeadline(_:limit:_:)`` would outlast the deadline.
func outcome<T: Sendable>(
    of task: Task<T, any Error>, _ what: String, limit: Duration = .seconds(30)
) async throws -> Result<T, any Error> {
    try await withDeadline(what, limit: limit) {
        await withTaskCancellationHandler { await task.result } onCancel: { task.cancel() }
    }
}

func isSessionLost(_ error: any Error) -> Bool {
    if case RecipeError.sessionLost = error { true } else { false }
}

@Suite(.serverLoadLimit) struct LockLikeRecipeTests {
    /// A holder whose session expires is cancelled and told, never left running beside the next
    /// holder, as `Lock.withLock` is.
    @Test(arguments: RecipeBackend.all, LockLike.allCases)
    func aHolderWhoseSessionExpiresIsCancelledAndTold(backend: RecipeBackend, kind: LockLike) async throws {
        let handles = try Handles(backend)
        defer { Task { await handles.closeAll() } }
        let path = try Key("/held")
        let first = try await handles.open()
        let second = try await handles.open()
        let (entered, enteredSignal) = AsyncStream<LockLease>.makeStream()
        let cancelled = Shared(false)
        let holder = Task {
            try await kind.with(first, path) { lease in
                enteredSignal.yield(lease)
                do {
                    try await Task.sleep(for: .seconds(3600))
                } catch {
                    cancelled.withLock { $0 = true }
                    throw error
                }
            }
        }
        let stale = try await next(entered, "the holder to enter")
        try await backend.expire(first)
        let ended = try await outcome(of: holder, "the holder to give up")
        #expect(throws: RecipeError.self) { try ended.get() }
        #expect { try ended.get() } throws: { isSessionLost($0) }
        #expect(cancelled.withLock { $0 }, "the body was cancelled")
        let next = try #require(try await kind.rival(second, path, timeout: .seconds(10)))
        #expect(next.token > stale.token)
    }

    /// A holder whose handle reports its session suspended for longer than the TTL since the
    /// last contact gives up too (contract clause 7), and its entry goes.
    @Test(arguments: RecipeBackend.all, LockLike.allCases)
    func aHolderSuspendedBeyondItsTTLIsCancelledAndTold(backend: RecipeBackend, kind: LockLike) async throws {
        let handles = try Handles(backend)
        defer { Task { await handles.closeAll() } }
        let path = try Key("/held")
        let observer = try await handles.open()
        let suspendable = SuspendableStore(try await handles.open())
        let (entered, enteredSignal) = AsyncStream<Void>.makeStream()
        let cancelled = Shared(false)
        let holder = Task {
            try await kind.with(suspendable, path) { _ in
                enteredSignal.yield()
                do {
                    try await Task.sleep(for: .seconds(3600))
                } catch {
                    cancelled.withLock { $0 = true }
                    throw error
                }
            }
        }
        try await next(entered, "the holder to enter")
        // Contact lost a moment less than a TTL ago: the holder gives up when the TTL is over.
        suspendable.suspend(lastContact: .now - suspendable.base.session.ttl + .milliseconds(300))
        let ended = try await outcome(of: holder, "the holder to give up")
        #expect { try ended.get() } throws: { isSessionLost($0) }
        #expect(cancelled.withLock { $0 }, "the body was cancelled")
        #expect(try await observer.children(of: path).isEmpty, "the holder's entry is gone")
    }

    /// A waiter whose session expires loses its entry with it: it queues again in its new
    /// session and, once in, holds a lease of that session (a lease naming the old one would
    /// have its body cancelled at once), leaving one entry.
    @Test(arguments: RecipeBackend.all, LockLike.allCases)
    func aWaiterWhoseSessionExpiresQueuesAgain(backend: RecipeBackend, kind: LockLike) async throws {
        let handles = try Handles(backend)
        defer { Task { await handles.closeAll() } }
        let path = try Key("/requeue")
        let observer = try await handles.open()
        let waiterStore = try await handles.open()
        let held = try #require(try await kind.rival(try await handles.open(), path))
        let waiting = Task {
            try await kind.with(waiterStore, path) { lease in
                (lease.sessionID, try await observer.children(of: path))
            }
        }
        try await waitForEntries(observer, path, count: 2)
        let before = Set(try await observer.children(of: path))
        let old = waiterStore.session.sessionID
        try await backend.expire(waiterStore)
        // The old entry goes with the session. Not "until one entry is left": the waiter may have
        // queued again before the watch's snapshot, and two entries are then all it ever sees.
        try await waitForEntries(observer, path) { !before.isSubset(of: $0) }
        try await held.release()
        let got = try await outcome(of: waiting, "the waiter to get in")
        if case .failure(let error as CoordinationError) = got, [.unavailable, .connectionLoss, .sessionExpired].contains(error.code) {
            // Allowed: a waiter need not ride out lost contact (ZooKeeper's expiry drill cuts
            // the connection, and a listing may fall in the cut), nor an expiry that its queueing
            // again meets before the handle is in its new session (ZooKeeper tells a create made
            // then that the session expired; seen under load); it must leave no entry.
        } else {
            let (session, entries) = try got.get()
            #expect(session != old, "the lease names the new session")
            #expect(session == waiterStore.session.sessionID)
            #expect(entries.count == 1, "one entry while it held: its own")
        }
        #expect(try await observer.children(of: path).isEmpty)
    }

    /// A contender that gives up (a timeout, a cancellation) removes its entry even through
    /// store errors, so nobody waits behind it; a timeout is `notAcquired` (or `nil`), never the
    /// store's `timeout`.
    @Test(arguments: RecipeBackend.all, LockLike.allCases)
    func aWaiterThatGivesUpLeavesNoEntry(backend: RecipeBackend, kind: LockLike) async throws {
        let handles = try Handles(backend)
        defer { Task { await handles.closeAll() } }
        let path = try Key("/busy")
        let observer = try await handles.open()
        let base = try await handles.open()
        let held = try #require(try await kind.rival(observer, path))

        let timingOut = FlakyStore(base, deletes: 2)
        #expect(try await kind.acquire(timingOut, path, timeout: .milliseconds(200)) == nil)
        #expect(timingOut.failures == 2, "the first deletes of the entry failed")
        #expect(try await observer.children(of: path) == [held.key.name], "the timed-out attempt left no entry")

        let throwing = FlakyStore(base, deletes: 2)
        await #expect(throws: RecipeError.notAcquired("\(kind.what) /busy was not acquired within 200ms")) {
            try await kind.with(throwing, path, timeout: .milliseconds(200)) { _ in Issue.record("the body ran unadmitted") }
        }
        #expect(throwing.failures == 2)
        #expect(try await observer.children(of: path) == [held.key.name])

        let cancelling = FlakyStore(base, deletes: 2)
        let waiting = Task { try await kind.acquire(cancelling, path) }
        try await waitForEntries(observer, path, count: 2)
        waiting.cancel()
        await #expect(throws: CancellationError.self) { try await outcome(of: waiting, "the cancelled waiter to end").get() }
        #expect(cancelling.failures == 2)
        #expect(try await observer.children(of: path) == [held.key.name], "the cancelled waiter left no entry")

        try await held.release()
        let next = try #require(try await kind.acquire(base, path, timeout: .seconds(5)), "nothing blocks the way")
        #expect(next.token > held.token)
    }

    /// A join whose create reply was lost (the outcome unknown) finds its entry instead of
    /// leaving an orphan that would block everyone.
    @Test(arguments: RecipeBackend.all, LockLike.allCases)
    func aLostCreateReplyLeavesNoOrphan(backend: RecipeBackend, kind: LockLike) async throws {
        let handles = try Handles(backend)
        defer { Task { await handles.closeAll() } }
        let path = try Key("/lost-reply")
        let observer = try await handles.open()
        for error in [CoordinationError.Code.connectionLoss, .timeout] {
            let flaky = FlakyStore(try await handles.open(), lostCreateReplies: 1, lostReplyError: error)
            let lease = try #require(try await kind.acquire(flaky, path, timeout: .seconds(10)))
            #expect(flaky.failures == 1, "the create's reply was lost")
            #expect(try await observer.children(of: path) == [lease.key.name], "one entry: the one the lease holds")
            try await lease.release()
            let rival = try #require(try await kind.rival(observer, path, timeout: .seconds(5)), "nothing blocks the way")
            #expect(rival.token > lease.token)
            try await rival.release()
        }
    }

    /// No herd in a read-write lock: a released writer wakes only the one writer queued behind it,
    /// and that writer's release wakes the readers queued behind it, each watching one entry.
    @Test(arguments: RecipeBackend.all)
    func readWriteReleasesWakeOnlyWhomTheyAdmit(backend: RecipeBackend) async throws {
        let handles = try Handles(backend)
        defer { Task { await handles.closeAll() } }
        let path = try Key("/rw-herd")
        let holder = try await ReadWriteLock(store: try await handles.open(), path: path).acquireWrite()
        let first = try #require(holder)
        let counting = CountingStore(try await handles.open())
        let lock = ReadWriteLock(store: counting, path: path)
        let writer = Task { try #require(try await lock.acquireWrite()) }
        try await withDeadline("the writer to watch") { await counting.snapshots.reach(1) }
        let readers = (0..<2).map { _ in Task { try #require(try await lock.acquireRead()) } }
        try await withDeadline("the readers to watch") { await counting.snapshots.reach(3) }
        #expect(counting.wakeups.current == 0)

        try await first.release()
        let second = try await outcome(of: writer, "the writer").get()
        #expect(counting.wakeups.current == 1, "the readers watch the queued writer, not the holder")
        try await second.release()
        for reader in readers { _ = try await outcome(of: reader, "a reader").get() }
        #expect(counting.wakeups.current == 3, "one wakeup per waiter")
        #expect(counting.snapshots.current == 3, "each waiter armed one watch for its whole wait")
        for reader in readers { try await reader.value.release() }
    }

    /// A semaphore's waiter is woken by entries leaving ahead of it, not by contenders joining
    /// behind it: each arrival used to wake every waiter, each of which listed the queue again.
    @Test(arguments: RecipeBackend.all)
    func semaphoreWaitersSleepThroughLaterArrivals(backend: RecipeBackend) async throws {
        let handles = try Handles(backend)
        defer { Task { await handles.closeAll() } }
        let path = try Key("/permits")
        let other = try await handles.open()
        let held = try #require(try await Semaphore(store: other, path: path, permits: 1).acquire())
        let counting = CountingStore(try await handles.open())
        let waiter = Task { try #require(try await Semaphore(store: counting, path: path, permits: 1).acquire()) }
        try await withDeadline("the waiter to watch") { await counting.snapshots.reach(1) }
        let later = (0..<3).map { _ in Task { try await Semaphore(store: other, path: path, permits: 1).acquire() } }
        // The waiter's watch delivers the three arrivals before the release.
        try await waitForEntries(other, path, count: 5)
        try await held.release()
        let lease = try await outcome(of: waiter, "the waiter").get()
        #expect(lease.token > held.token)
        #expect(counting.snapshots.current == 1, "one watch for the whole wait: arrivals behind did not re-arm it")
        for task in later { task.cancel() }
        for task in later { _ = try await outcome(of: task, "a cancelled later arrival to end") }
        try await lease.release()
    }
}
