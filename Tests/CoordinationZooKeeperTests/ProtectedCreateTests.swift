import CZooKeeper
import Coordination
import CoordinationTestSupport
import Testing

@testable import CoordinationZooKeeper

@Suite(.enabled(if: ZooKeeperTestEnvironment.runServerTests, ZooKeeperTestEnvironment.skipReason), .serverLoadLimit)
struct ProtectedCreateTests {
    /// A create whose reply was lost is found again by prefix, owner and value, and only once.
    @Test func lostReplyIsRecoveredNotOrphaned() async throws {
        try await ZooKeeperTestEnvironment.withStore { store in
            let prefix = try Key("/locks/lock-")
            _ = try await store.create(prefix, value: [9], mode: .ephemeralSequential)  // known to the store
            // As if the reply had been lost: the znode exists, the store never heard of it.
            try await store.ensurePath(store.znode(try Key("/locks")))
            let raw = await store.createNode(store.znode(prefix), value: [1, 2], flags: ZOO_EPHEMERAL_SEQUENTIAL)
            #expect(raw.rc == 0)
            let other = await store.createNode(store.znode(prefix), value: [3], flags: ZOO_EPHEMERAL_SEQUENTIAL)
            #expect(other.rc == 0)
            let found = try await store.findLostSequentialNode(store.znode(prefix), value: [1, 2])
            #expect(found?.key.path == raw.path.map { String($0.dropFirst(store.namespace.path.count)) })
            #expect(found?.isEphemeral == true && found?.value == [1, 2])
            #expect(try await store.findLostSequentialNode(store.znode(prefix), value: [1, 2]) == nil)
        }
    }

    /// Only a single delete dropped its entry: a migration moving a counter by 200,000
    /// ephemeral probes, deleted in transactions, kept every one of them in memory.
    @Test func transactionDeletesForgetTheirNodes() async throws {
        try await ZooKeeperTestEnvironment.withStore { store in
            _ = try await store.create(try Key("/q"), value: [], mode: .persistent)  // a transaction makes no parents
            let probe = try Key("/q/probe-")
            let created = try await store.transaction(Array(repeating: .create(probe, value: [], mode: .ephemeralSequential), count: 3))
            let keys = created.compactMap { if case .created(let record) = $0 { record.key } else { nil } }
            #expect(keys.count == 3)
            #expect(store.ownSequentialNodes.withLock { $0.count } == 3)
            _ = try await store.transaction(keys.map { .delete($0, ifVersion: nil) })
            #expect(store.ownSequentialNodes.withLock { $0.count } == 0)
        }
    }
}
