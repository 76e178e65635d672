import Coordination
@testable import CoordinationEtcd
import CoordinationTesting

/// Runs the conformance suite against the shared etcd.
struct EtcdHarness: ConformanceHarness {
    var backendName: String { "etcd" }

    /// What etcd cannot do, written down next to the checks (DESIGN: fail loudly, never fake it).
    var expectedDeviations: [String: String] {
        [
            "transaction-writes-one-key-twice":
                "etcd refuses a txn that puts one key twice (\"duplicate key given in txn request\"), and one put "
                + "cannot produce ZooKeeper's version numbers for a create followed by a set; EtcdStore throws "
                + "`unsupported` naming the second operation.",
        ]
    }

    func openStore(namespace: Key) async throws -> any CoordinationStore {
        try await SharedEtcd.open(namespace, ttl: .seconds(10))
    }

    /// Revokes the store's lease from outside, as etcd does when the TTL runs out: its ephemeral
    /// keys go at once, and the store learns of it at its next keep-alive.
    func expireSession(of store: any CoordinationStore) async throws {
        guard let store = store as? EtcdStore, let lease = store.leaseID else {
            throw CoordinationError(.unsupported, "expireSession needs an EtcdStore with a live lease")
        }
        try await EtcdAdmin(endpoints: SharedEtcd.endpoints).revoke(lease: lease)
    }
}
