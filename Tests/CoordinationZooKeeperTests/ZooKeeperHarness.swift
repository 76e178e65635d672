import Coordination
import CoordinationTesting
import CoordinationTestSupport
import CoordinationZooKeeper

/// Runs the conformance suite against the shared (or `ZOOKEEPER_HOSTS`) ZooKeeper.
struct ZooKeeperHarness: ConformanceHarness {
    var backendName: String { "zookeeper" }

    func openStore(namespace: Key) async throws -> any CoordinationStore {
        try await ZooKeeperTestEnvironment.openRelayedStore(namespace: namespace)
    }

    func expireSession(of store: any CoordinationStore) async throws {
        guard let store = store as? ZooKeeperStore else {
            throw CoordinationError(.unsupported, "not a ZooKeeperStore: \(type(of: store))")
        }
        try await ZooKeeperSessionDrill.expire(store)
    }
}
