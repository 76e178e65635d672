import Coordination
@testable import CoordinationZooKeeper
import CoordinationLocalServers
import CoordinationTestSupport
import Synchronization
import Testing

/// Calls in flight when the store closes: each ends, once, and nothing of them stays behind.
@Suite(.enabled(if: ZooKeeperTestEnvironment.runServerTests, ZooKeeperTestEnvironment.skipReason), .serverLoadLimit)
struct CloseInFlightTests {
    /// Many calls of every kind wait on a server that stopped answering (a black-holed relay:
    /// the connection stays open, no reply comes); the close answers every one of them, and the
    /// per-call reply holders are let go (one left per call would be a leak for each close).
    @Test func closeAnswersEveryCallInFlightAndKeepsNothing() async throws {
        let relay = try TCPRelay(upstreams: ZooKeeperTestEnvironment.hosts) { false }
        defer { relay.stop() }
        let namespace = ZooKeeperTestEnvironment.uniqueNamespace("close-in-flight")
        // A long session: the C client must not give the calls up by itself (after two thirds of it) first.
        let store = try await ZooKeeperTestEnvironment.openStore(namespace: namespace, hosts: [relay.address], sessionTimeout: .seconds(30))
        let key = try Key("/k")
        _ = try await store.create(key, value: [1])
        relay.blackHole()

        let outcomes = Outcomes()
        let perKind = 10
        var tasks: [Task<Void, Never>] = []
        for index in 0..<perKind {
            let child = try key.child("c\(index)")
            tasks.append(Task { await outcomes.record("get") { _ = try await store.get(key) } })
            tasks.append(Task { await outcomes.record("set") { _ = try await store.set(key, value: [2], ifVersion: nil) } })
            tasks.append(Task { await outcomes.record("create") { _ = try await store.create(child, value: [3]) } })
            tasks.append(Task { await outcomes.record("children") { _ = try await store.children(of: key) } })
            tasks.append(Task {
                await outcomes.record("transaction") { _ = try await store.transaction([.check(key, version: 0), .set(key, value: [4], ifVersion: nil)]) }
            })
        }
        let calls = tasks.count
        // Every call handed to the C client (and unanswered: the server no longer answers).
        try await withDeadline("\(calls) calls in flight") {
            while store.connection.callsInFlight < calls { try await Task.sleep(for: .milliseconds(10)) }
        }

        await store.close()
        try await withDeadline("every call in flight to return after close", limit: .seconds(20)) {
            while outcomes.count < calls { try await Task.sleep(for: .milliseconds(10)) }
        }
        for task in tasks { await task.value }

        for (kind, error) in outcomes.all {
            // Handed to the server: a write's outcome is unknown (connectionLoss); a read read
            // nothing (unavailable, as after close). Never a hang, nor a code that says the
            // server refused it.
            let expected: CoordinationError.Code = ["get", "children"].contains(kind) ? .unavailable : .connectionLoss
            #expect(error?.code == expected, "\(kind) in flight at close: \(String(describing: error))")
        }
        #expect(store.connection.callsInFlight == 0)
        #expect(store.connection.replyBoxesAlive == 0, "a reply box left per call in flight at close")
        await ZooKeeperTestEnvironment.cleanUp(namespace)
    }
}

/// What each call ended with, by kind.
private final class Outcomes: Sendable {
    private let results = Mutex<[(String, CoordinationError?)]>([])

    var count: Int { results.withLock { $0.count } }
    var all: [(String, CoordinationError?)] { results.withLock { $0 } }

    func record(_ kind: String, _ body: () async throws -> Void) async {
        var caught: CoordinationError?
        do {
            try await body()
        } catch let error as CoordinationError {
            caught = error
        } catch {
            caught = CoordinationError(.unsupported, "not a CoordinationError: \(error)")
        }
        results.withLock { $0.append((kind, caught)) }
    }
}
