import Coordination
@testable import CoordinationEtcd
import CoordinationLocalServers
import CoordinationTesting
import CoordinationTestSupport

/// Runs the conformance suite against the shared etcd.
///
/// Every handle reaches etcd through a ``TCPRelay`` of its own (its requests, its lease's
/// keep-alives and its watches alike), so that one handle can be cut off while etcd and the
/// other handles go on.
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
        let owner = WeakStore<EtcdStore>()
        let relay = try TCPRelay(upstreams: SharedEtcd.endpoints) { owner.isGone }
        do {
            let store = try await SharedEtcd.open(namespace, ttl: .seconds(10), endpoints: [relay.address])
            owner.hold(store)
            Self.relays.add(relay, for: store, owner: owner)
            return store
        } catch {
            relay.stop()
            throw error
        }
    }

    /// Revokes the store's lease from outside, as etcd does when the TTL runs out: its ephemeral
    /// keys go at once, and the store learns of it at its next keep-alive.
    func expireSession(of store: any CoordinationStore) async throws {
        guard let store = store as? EtcdStore, let lease = store.leaseID else {
            throw CoordinationError(.unsupported, "expireSession needs an EtcdStore with a live lease")
        }
        try await EtcdAdmin(endpoints: SharedEtcd.endpoints).revoke(lease: lease)
    }

    /// Cuts the handle's relay: its open connections drop and new ones are refused, while its
    /// lease lives on in etcd until the TTL runs out.
    func cutConnection(of store: any CoordinationStore) async throws {
        try Self.relay(of: store).cut()
    }

    func healConnection(of store: any CoordinationStore) async throws {
        try Self.relay(of: store).heal()
    }

    /// The relay in front of each conformance handle.
    private static let relays = StoreRelays<EtcdStore>()

    private static func relay(of store: any CoordinationStore) throws -> TCPRelay {
        guard let store = store as? EtcdStore, let relay = relays.relay(of: store) else {
            throw CoordinationError(.unsupported, "only an EtcdStore opened by EtcdHarness has a relay to cut")
        }
        return relay
    }
}
