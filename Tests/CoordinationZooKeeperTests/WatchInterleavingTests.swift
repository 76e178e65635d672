import Coordination
@testable import CoordinationZooKeeper
import CoordinationTestSupport
import Synchronization
import Testing

/// The watcher's ordering rules for the interleavings a real server gives only by chance: a round
/// of its re-reads is held (``WatchRoundHold``) while writes land, so that its replies come after
/// watch signals it has not handled yet.
@Suite(.enabled(if: ZooKeeperTestEnvironment.runServerTests, ZooKeeperTestEnvironment.skipReason), .serverLoadLimit)
struct WatchInterleavingTests {
    /// A re-listing that finds a child gone while that child's delete signal still waits leaves
    /// the delete to the signal: reported by the listing, it would come before a change made
    /// before the delete and told just ahead of it.
    @Test func changeToldBeforeADeleteTheListingFoundIsReportedFirst() async throws {
        try await ZooKeeperTestEnvironment.withStore { store in
            let folder = try Key("/w/a"), deleted = try Key("/w/a/x"), changed = try Key("/w/a/y")
            for key in [deleted, changed] { _ = try await store.create(key, value: [], mode: .persistent) }
            let follower = WatchFollower(store.watch(folder, scope: .subtree))
            defer { follower.cancel() }
            try await follower.wait { $0[changed] != nil }
            let listed = store.znode(folder)
            store.watchRoundHold.holdNextRound { _, lists in lists.contains(listed) }
            defer { store.watchRoundHold.release() }
            // Its children watch fires: the watcher re-lists the folder, which is held unsent.
            _ = try await store.create(try Key("/w/a/z"), value: [], mode: .persistent)
            try await withDeadline("the folder's re-listing to be held") { await store.watchRoundHold.held() }
            let set = try await store.set(changed, value: [1], ifVersion: nil)
            try await store.delete(deleted, ifVersion: nil, recursive: false)
            let heldAtDelete = VersionSeen()
            store.watchRoundHold.release()
            try await follower.wait { state in
                guard state[deleted] == nil else { return false }
                heldAtDelete.note(state[changed]?.version ?? -1)
                return true
            }
            let held = heldAtDelete.first
            #expect(held == set.version, "\(deleted) reported deleted while \(changed) was at version \(held ?? -1); it was set to \(set.version) before")
        }
    }

    /// A delete handled after reads of the same batch, which ran after the key was created again:
    /// the parent is re-listed, so the new key is reported (its parent's children watch, re-armed
    /// by a listing that already held it, will not tell).
    @Test func keyCreatedAgainWhileABatchReadsIsReported() async throws {
        try await ZooKeeperTestEnvironment.withStore { store in
            let deleted = try Key("/w/a/x"), changed = try Key("/w/a/y"), sentinel = try Key("/w/b/s")
            for key in [deleted, changed, sentinel] { _ = try await store.create(key, value: [], mode: .persistent) }
            let follower = WatchFollower(store.watch(try Key("/w"), scope: .subtree))
            defer { follower.cancel() }
            try await follower.wait { $0[sentinel] != nil }
            let read = store.znode(changed)
            store.watchRoundHold.holdNextRound { reads, _ in reads.contains(read) }
            defer { store.watchRoundHold.release() }
            _ = try await store.set(changed, value: [1], ifVersion: nil)
            try await withDeadline("the changed key's re-read to be held") { await store.watchRoundHold.held() }
            // Told while the re-read waits, so handled in one batch after it: the folder's child
            // event (which consumes its children watch), then the delete; the re-creation tells nothing.
            _ = try await store.create(try Key("/w/a/w"), value: [], mode: .persistent)
            try await store.delete(deleted, ifVersion: nil, recursive: false)
            let recreated = try await store.create(deleted, value: [2], mode: .persistent)
            store.watchRoundHold.release()
            try await expectReported(recreated, by: follower, before: sentinel, in: store)
        }
    }

    /// The same across batches: a delete told while a re-listing of its folder was in flight, and
    /// created again before that listing was read, is handled in the batch after it; the listing
    /// already held the new key under the known name, so only a re-listing reports it.
    @Test func keyCreatedAgainWhileItsFolderIsListedIsReported() async throws {
        try await ZooKeeperTestEnvironment.withStore { store in
            let folder = try Key("/w/a"), deleted = try Key("/w/a/x"), sentinel = try Key("/w/b/s")
            for key in [deleted, try Key("/w/a/y"), sentinel] { _ = try await store.create(key, value: [], mode: .persistent) }
            let follower = WatchFollower(store.watch(try Key("/w"), scope: .subtree))
            defer { follower.cancel() }
            try await follower.wait { $0[sentinel] != nil }
            let listed = store.znode(folder)
            store.watchRoundHold.holdNextRound { _, lists in lists.contains(listed) }
            defer { store.watchRoundHold.release() }
            _ = try await store.create(try Key("/w/a/w"), value: [], mode: .persistent)
            try await withDeadline("the folder's re-listing to be held") { await store.watchRoundHold.held() }
            try await store.delete(deleted, ifVersion: nil, recursive: false)
            let recreated = try await store.create(deleted, value: [2], mode: .persistent)
            store.watchRoundHold.release()
            try await expectReported(recreated, by: follower, before: sentinel, in: store)
        }
    }

    /// Sets `sentinel` (told after everything before it) and checks that by the time the follower
    /// holds that change it holds `record` too, and the store's whole state.
    private func expectReported(
        _ record: Record, by follower: WatchFollower, before sentinel: Key, in store: ZooKeeperStore
    ) async throws {
        let marked = try await store.set(sentinel, value: [1], ifVersion: nil)
        try await follower.wait { $0[sentinel] == marked }
        #expect(follower.records[record.key] == record, "\(record.key) created again but never reported")
        let expected = try await store.records(under: try Key("/w"))
        #expect(Set(follower.records.values) == Set(expected))
    }
}

/// The version a follower's state held when a condition first became true.
private final class VersionSeen: Sendable {
    private let seen = Mutex<Int64?>(nil)

    func note(_ version: Int64) { seen.withLock { $0 = $0 ?? version } }
    var first: Int64? { seen.withLock { $0 } }
}
