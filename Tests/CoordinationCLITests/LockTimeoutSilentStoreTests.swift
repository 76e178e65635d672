import Coordination
import CoordinationLocalServers
import CoordinationTestSupport
import CoordinationRecipes
import Foundation
import Synchronization
import Testing
@testable import CoordinationCLI

/// `coord lock --timeout` whose store goes silent while it waits, through a relay that stops
/// passing anything on (a partition: requests hang rather than fail).
@Suite(.serverLoadLimit) struct LockTimeoutSilentStoreTests {
    /// It exited 12 only after 11 s on ZooKeeper and 12 s on etcd with a 3 s timeout and a 6 s
    /// TTL: the removal of its entry was retried for as long as the session could live (two
    /// TTLs from the last contact), and on etcd a request made as the server went silent waited
    /// out its time-out, then exited 9. Here the TTL is 10 s and etcd's request time-out 30 s, so
    /// that the old ways take 17 s or more. It then waited up to 2 s more for the session's close
    /// (etcd's lease revoke), which a silent store never answers: the close is no longer waited
    /// for. It then still took 5.0 s on both backends: a second for its entry's removal and one
    /// for the lock's key's (ZooKeeper), or 2 s for a request in flight as the store went silent
    /// (etcd, in most runs). One second's allowance now covers all of it: 4.0 s on both. The
    /// bound is the timeout, that second and 1.5 s for a loaded machine's lag.
    @Test(
        "coord lock --timeout whose store goes silent while it waits exits 12 soon after its timeout; its entry ends with its session",
        arguments: RecipeAcceptanceTests.servers)
    func silentStoreWhileWaiting(backend: TestBackend) async throws {
        try backend.require()
        let namespace = TestBackend.freshNamespace("lock-timeout-silent")
        let ttl = Duration.seconds(10)
        let direct = try #require(backend.url(namespace, ttl: ttl)) + (backend.name == "etcd" ? "&timeout=30s" : "")
        let relay = try WorkerWaitsForStoreTests.relay(to: backend)
        defer { relay.stop() }
        let holder = try await LineProcess(
            CoordProcess.binary.path, ["--store", direct, "lock", "busy", "--", "sh", "-c", "echo holding; exec sleep 600"])
        defer { holder.stop() }
        #expect(try await holder.nextLine(within: .seconds(20)) == "holding")
        let observer = try await backend.open(namespace, ttl)
        defer { Task { await observer.close() } }
        let path = try Key("/locks/busy")

        let coord = try CoordProcess()
        defer { coord.removeDirectory() }
        let timeout = Duration.seconds(3)
        let relayed = WorkerWaitsForStoreTests.url(direct, throughHost: relay.address)
        let waiting = Task { try await coord.run(["--store", relayed, "lock", "busy", "--timeout", "3s", "--", "echo", "ran"]) }
        try await waitForEntries(2, under: path, in: observer)
        // Queued: its timeout ends at most 3 s from now.
        let silent = ContinuousClock.now
        relay.blackHole()
        let result = try await waiting.value
        let took = silent.duration(to: result.exitedAt)
        #expect(result.status == 12, "\(result.stderr)")
        #expect(result.stdout.isEmpty, "the command did not run")
        // Given up in the wait, or in a store call made just as the relay stopped (the listing
        // of the queue), which says so.
        #expect(result.stderrLines.last?.hasPrefix("coord: lock /locks/busy was not acquired within 3s") == true, "\(result.stderr)")
        #expect(took < timeout + LockCommand.storeAllowance + .milliseconds(1500), "coord exited \(took) after its store went silent")

        // Its entry goes with its session, and blocks nobody after that.
        try await waitForEntries(1, under: path, in: observer)
        holder.kill(SIGTERM)
        #expect(try await holder.exitStatus(within: .seconds(20)) == 143)
        let next = try await coord.run(["--store", direct, "lock", "busy", "--timeout", "10s", "--", "true"])
        #expect(next.status == 0, "\(next.stderr)")
        let root = try await backend.open(.root, .seconds(5))
        try? await root.delete(namespace, ifVersion: nil, recursive: true)
        await root.close()
    }

    /// A store silent before coord has queued: the join's create held coord until the request's
    /// own time-out (10 s on etcd), whatever --timeout said, and it then exited 9. It now gives
    /// up with 12 once the store has not answered for `storeAllowance` (a second) past the timeout.
    @Test func aStoreSilentBeforeQueueingGivesUpSoonAfterTheTimeout() async throws {
        let store = SilentCreates(try await TestBackend.memory.open(TestBackend.freshNamespace("lock-silent-join"), .seconds(10)))
        defer { Task { await store.close() } }
        let lock = Lock(store: store, path: try Key("/locks/silent"))
        let started = ContinuousClock.now
        await #expect(
            throws: RecipeError.notAcquired(
                "lock /locks/silent was not acquired within 1s: the store did not answer for 1s more (is it overloaded or out of reach?); the command did not run")
        ) {
            _ = try await withDeadline("coord to give up", limit: .seconds(20)) { try await LockCommand.acquire(lock, timeout: .seconds(1)) }
        }
        #expect(started.duration(to: .now) >= .seconds(1) + LockCommand.storeAllowance, "the store was given its allowance")
    }

    /// Once the lock's key's removal went unanswered for its second, coord still waited for the
    /// session's close: on etcd the lease's revoke, up to 2 s more for a server that does not
    /// answer. The close is now started and not waited for; the session ends by expiring.
    @Test func aStoreFoundSilentOnTheWayOutIsNotWaitedForToClose() async throws {
        let store = SilentOnTheWayOut(try await TestBackend.memory.open(TestBackend.freshNamespace("lock-silent-close"), .seconds(10)))
        defer { Task { await store.base.close() } }
        let silence = StoreSilence()
        let ran = try await withDeadline("the held command's store to be done with", limit: .seconds(10)) {
            let ran = try await HeldCommand.removingIfUnused(try Key("/locks/silent"), in: store, noting: silence) { true }
            await silence.close(store)
            return ran
        }
        #expect(ran)
        #expect(silence.isKnown, "the removal's unanswered second says the store is silent")
        #expect(store.closeAsked.withLock { $0 }, "the close was started")
    }

    /// A lock given up on a store that has gone silent (deletes unanswered) spends one allowance
    /// on the whole tidy-up: its entry's removal finds the store silent, and the lock's key is
    /// then not asked for. It spent a second on each (2 s past the timeout), the key's removal
    /// asked of a store already found silent.
    @Test func aLockGivenUpOnASilentStoreSpendsOneAllowanceOnTheTidyUp() async throws {
        let namespace = TestBackend.freshNamespace("lock-silent-tidy-up")
        let observer = try await TestBackend.memory.open(namespace, .seconds(10))
        defer { Task { await observer.close() } }
        let key = try Key("/locks/silent-tidy-up")
        let holder = try #require(try await Lock(store: observer, path: key).acquire(timeout: .zero))
        let store = DelayedDeletes(try await TestBackend.memory.open(namespace, .seconds(10)), answeringAfter: nil)
        defer { Task { await store.base.close() } }
        let silence = StoreSilence()

        let attempt = Task {
            try await HeldCommand.removingIfUnused(key, in: store, noting: silence) {
                try await LockCommand.acquire(Lock(store: store, path: key), timeout: .milliseconds(100), noting: silence)
            }
        }
        // Not through a deadline that cancels: the waits for the removals do not heed it.
        let result = await FirstAnswer.within(.seconds(20)) { await attempt.result }
        #expect(try #require(result, "coord's attempt and tidy-up ended").get() == nil, "not acquired")
        #expect(silence.isKnown, "the entry's unanswered removal says the store is silent")
        #expect(store.deletesAsked.count == 1, "only the entry's removal was asked for: \(store.deletesAsked)")
        #expect(!store.deletesAsked.contains(key), "not the lock's key's, after the store was found silent")
        #expect(!store.deletesAsked.contains(holder.key))
    }

    /// The shared allowance counts silence, not time: a store answering each delete late (0.6 s,
    /// two of them, longer than the allowance in all) is waited for through the entry's removal
    /// and the lock's key's, and is not taken for silent.
    @Test func aLockGivenUpOnASlowStoreIsTidiedThroughTheSharedAllowance() async throws {
        let namespace = TestBackend.freshNamespace("lock-slow-tidy-up")
        let observer = try await TestBackend.memory.open(namespace, .seconds(10))
        defer { Task { await observer.close() } }
        let key = try Key("/locks/slow-tidy-up")
        let holder = try #require(try await Lock(store: observer, path: key).acquire(timeout: .zero))
        let store = DelayedDeletes(try await TestBackend.memory.open(namespace, .seconds(10)), answeringAfter: .milliseconds(600))
        defer { Task { await store.base.close() } }
        let silence = StoreSilence()

        let lease = try await withDeadline("coord's attempt and tidy-up", limit: .seconds(20)) {
            try await HeldCommand.removingIfUnused(key, in: store, noting: silence) {
                try await LockCommand.acquire(Lock(store: store, path: key), timeout: .milliseconds(100), noting: silence)
            }
        }
        #expect(lease == nil, "not acquired")
        #expect(!silence.isKnown, "a store that answers is not silent")
        #expect(try await observer.children(of: key) == [holder.key.name], "the entry given up was removed")
        // Refused (the holder's entry is under it), but asked for and answered.
        #expect(store.deletesAsked.last == key, "the lock's key's removal was asked for too: \(store.deletesAsked)")
    }

    /// A store that answers, however slowly, is not taken for silent: the lock's key is removed,
    /// and the close is waited for (it ends the session, and its entries, at once).
    @Test func aSlowStoreIsTidiedAndClosedAsBefore() async throws {
        let base = try await TestBackend.memory.open(TestBackend.freshNamespace("lock-slow-close"), .seconds(10))
        let store = SlowReads(base)
        let key = try Key("/locks/slow")
        _ = try await base.create(key, value: [], mode: .persistent)
        let silence = StoreSilence()
        try await HeldCommand.removingIfUnused(key, in: store, noting: silence) {}
        #expect(!silence.isKnown)
        #expect(try await !base.exists(key), "the unused lock key is removed")
        await silence.close(store)
        #expect(base.session.state == .closed, "the close was waited for")
    }

    /// Waits until `key` has exactly `count` children (queue entries).
    private func waitForEntries(_ count: Int, under key: Key, in store: any CoordinationStore) async throws {
        try await withDeadline("\(count) entries under \(key)", limit: .seconds(30)) {
            var records: [Key: Record] = [:]
            for try await event in store.watch(key, scope: .children) {
                records.apply(event)
                if records.keys.filter({ $0.parent == key }).count == count { return }
            }
        }
    }
}

/// A store whose creates never answer (until cancelled), as a server gone silent just before.
private final class SilentCreates: ForwardingStore {
    let base: any CoordinationStore
    init(_ base: any CoordinationStore) { self.base = base }

    func create(_ key: Key, value: [UInt8], mode: CreateMode) async throws -> Record {
        try await Task.sleep(for: .seconds(3600))
        throw CancellationError()
    }
}

/// A store gone silent as coord tidies up: reads and the close never answer (until cancelled).
private final class SilentOnTheWayOut: ForwardingStore {
    let base: any CoordinationStore
    let closeAsked = Mutex(false)
    init(_ base: any CoordinationStore) { self.base = base }

    func get(_ key: Key) async throws -> Record? {
        try await Task.sleep(for: .seconds(3600))
        throw CancellationError()
    }

    func close() async {
        closeAsked.withLock { $0 = true }
        try? await Task.sleep(for: .seconds(3600))
    }
}

/// A store whose reads answer late, though well within the second coord allows them.
private final class SlowReads: ForwardingStore {
    let base: any CoordinationStore
    init(_ base: any CoordinationStore) { self.base = base }

    func get(_ key: Key) async throws -> Record? {
        try await Task.sleep(for: .milliseconds(200))
        return try await base.get(key)
    }
}
