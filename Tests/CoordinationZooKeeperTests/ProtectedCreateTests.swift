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
}
