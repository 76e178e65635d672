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

    /// An ephemeral-sequential create tried while the handle is cut off fails once the session is
    /// to be treated as lost (a TTL after its last confirmed contact, clause 7), as every other
    /// write during a cut fails within the TTL: its search for a node made before the reply was
    /// lost waited for the session to come back for as long as the cut lasted, for ever when the
    /// server stays out of reach (only the server can say the session expired).
    @Test func protectedCreateDuringACutEndsWhenTheSessionIsLost() async throws {
        try await ZooKeeperTestEnvironment.withStore(relayed: true) { store in
            _ = try await store.create(try Key("/locks"), value: [], mode: .persistent)
            let events = store.sessionEvents()
            try ZooKeeperSessionDrill.cut(store)
            let suspended = try await firstElement("suspended after the cut", of: events) { $0.state == .suspended }
            let lost = suspended.lastContact + suspended.ttl
            let attempt = Task { try await store.create(try Key("/locks/lock-"), value: [1], mode: .ephemeralSequential) }
            // Well past the moment the session is lost, so that only a wait for the end of the cut misses it.
            let ended = try await firstElement("the create to end", of: Self.outcome(of: attempt), within: suspended.ttl * 3) { _ in true }
            attempt.cancel()
            try ZooKeeperSessionDrill.heal(store)
            switch ended {
            case .success(let record): Issue.record("a create with the server out of reach succeeded: \(record)")
            case .failure(let error as CoordinationError):
                #expect(error.code == .connectionLoss, "\(error)")
                #expect(ContinuousClock.now >= lost, "gave up before the session could be lost: the node may still be alive")
            case .failure(let error): Issue.record("not a CoordinationError: \(error)")
            }
        }
    }

    /// The task's outcome as a one-element sequence, for ``firstElement(_:of:within:where:)``.
    private static func outcome(of task: Task<Record, any Error>) -> AsyncStream<Result<Record, any Error>> {
        AsyncStream { continuation in
            let waiter = Task {
                continuation.yield(await task.result)
                continuation.finish()
            }
            continuation.onTermination = { _ in waiter.cancel() }
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
