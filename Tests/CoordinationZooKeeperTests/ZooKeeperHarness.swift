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

    /// Cuts the handle's own TCP relay: the C client loses its connection and cannot make another.
    func cutConnection(of store: any CoordinationStore) async throws {
        try ZooKeeperSessionDrill.cut(try Self.zooKeeperStore(store))
    }

    func healConnection(of store: any CoordinationStore) async throws {
        try ZooKeeperSessionDrill.heal(try Self.zooKeeperStore(store))
    }

    private static func zooKeeperStore(_ store: any CoordinationStore) throws -> ZooKeeperStore {
        guard let store = store as? ZooKeeperStore else {
            throw CoordinationError(.unsupported, "not a ZooKeeperStore: \(type(of: store))")
        }
        return store
    }
}
