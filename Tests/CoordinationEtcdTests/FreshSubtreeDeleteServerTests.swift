import Coordination
@testable import CoordinationEtcd
import CoordinationLocalServers
import Testing

extension EtcdServerTests {
    /// A transaction that reads a snapshot first (here: its one-request try failed on a sequential
    /// counter another handle moved) and deletes a key and the child created by the store's latest
    /// write: the child's create revision is the snapshot's revision, which the write's compare
    /// "nothing appeared beneath since the snapshot" must still allow. Counted one short, the
    /// compare failed on the unchanged snapshot and the transaction was refused as `unavailable`.
    /// On a server of its own, so that no other client's write moves the revision in between.
    @Test func aTransactionDeletesASubtreeCreatedByTheLatestWrite() async throws {
        try await EtcdCluster.with { cluster in
            let store = try await open(cluster)
            let other = try await open(cluster)
            let prefix = try Key("/q/n-")
            // Moves /q's counter past what `store` guesses, so its transaction reads a snapshot.
            _ = try await other.create(prefix, value: [], mode: .sequential)
            let child = try await store.create(try Key("/a/b"), value: [], mode: .persistent)
            let results = try await store.transaction([
                .delete(child.key, ifVersion: nil), .delete(try Key("/a"), ifVersion: nil), .create(prefix, value: [], mode: .sequential),
            ])
            #expect(results.count == 3)
            #expect(try await !store.exists(try Key("/a")))
            #expect(try await store.children(of: try Key("/q")) == ["n-0000000000", "n-0000000001"])
            await other.close()
            await store.close()
        }
    }
}
