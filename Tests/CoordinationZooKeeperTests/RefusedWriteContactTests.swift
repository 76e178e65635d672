import Coordination
import CoordinationZooKeeper
import Testing

/// A write the leader refuses (the key exists, a version differs, a parent is missing) is still
/// the leader's answer: it confirms the session's contact as an applied write does (contract
/// clause 7). Counting only applied writes left a holder whose writes were refused (a lock
/// contender creating a taken key, a compare-and-set losing a race) with an older last contact,
/// so it believed its session's safe window ended sooner than the server's did.
@Suite(.enabled(if: ZooKeeperTestEnvironment.runServerTests, ZooKeeperTestEnvironment.skipReason))
struct RefusedWriteContactTests {
    @Test func aRefusedWriteConfirmsTheSessionsContact() async throws {
        try await ZooKeeperTestEnvironment.withStore { store in
            let key = try Key("/taken")
            _ = try await store.create(key, value: [1], mode: .persistent)

            let beforeExists = ContinuousClock.now
            let exists = await #expect(throws: CoordinationError.self) { try await store.create(key, value: [2], mode: .persistent) }
            #expect(exists?.code == .nodeExists)
            #expect(store.session.lastContact >= beforeExists, "a create refused because the key exists")

            let beforeConflict = ContinuousClock.now
            let conflict = await #expect(throws: CoordinationError.self) { try await store.set(key, value: [3], ifVersion: 7) }
            #expect(conflict?.code == .versionConflict)
            #expect(store.session.lastContact >= beforeConflict, "a set refused for its version")

            let beforeMissing = ContinuousClock.now
            let missing = await #expect(throws: CoordinationError.self) { try await store.delete(try Key("/absent"), ifVersion: nil, recursive: false) }
            #expect(missing?.code == .noNode)
            #expect(store.session.lastContact >= beforeMissing, "a delete refused because the key is missing")
        }
    }
}
