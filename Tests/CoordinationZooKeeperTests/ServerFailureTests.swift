import Coordination
import Foundation
import CoordinationZooKeeper
import Synchronization
import CoordinationLocalServers
import CoordinationTestSupport
import Testing

/// Restarts and leader failures on servers these tests start themselves (ports 22100-22299).
@Suite(.serialized, .enabled(if: TestServer.runTests, TestServer.skipReason), .serverLoadLimit)
struct ServerFailureTests {
    /// The session survives a server crash and restart; the watch resyncs with a snapshot and
    /// converges to the final state.
    @Test func watcherResyncsAcrossServerRestart() async throws {
        // A long session (tickTime 3 s allows up to 60 s): a JVM restart on a loaded machine must
        // not outlast it, or the test would see an expiry instead of the reconnect it is about.
        let server = try TestServer(id: 1, clientPort: 22101, tickTime: 3000)
        try await withTestServers([server]) {
            try await server.start()
            let namespace = ZooKeeperTestEnvironment.uniqueNamespace("restart")
            let watcher = try await ZooKeeperTestEnvironment.openStore(namespace: namespace, hosts: [server.host], sessionTimeout: .seconds(45))
            let writer = try await ZooKeeperTestEnvironment.openStore(namespace: namespace, hosts: [server.host], sessionTimeout: .seconds(45))
            let watcherStates = SessionRecorder(watcher)
            let original = watcher.session.sessionID
            let root = try Key("/w")
            _ = try await writer.create(try Key("/w/a"), string: "1")
            let follower = WatchFollower(watcher.watch(root, scope: .subtree))
            let initial = Set(try await writer.records(under: root))
            try await follower.wait { Set($0.values) == initial }

            server.kill()
            _ = try await firstElement("suspended state after the crash", of: watcher.sessionEvents()) { $0.state == .suspended }
            try await server.start()
            _ = try await firstElement("reconnected state after the restart", of: watcher.sessionEvents(), within: .seconds(60)) {
                $0.state == .reconnected
            }

            try await retryingWhileDisconnected { _ = try await writer.set(try Key("/w/a"), string: "2") }
            try await retryingWhileDisconnected { _ = try await writer.put(try Key("/w/b"), value: [2]) }
            try await retryingWhileDisconnected { _ = try await writer.put(try Key("/w/c/d"), value: [3]) }
            let final = Set(try await writer.records(under: root))
            try await follower.wait { Set($0.values) == final }
            #expect(follower.snapshots >= 2, "a reconnect must be followed by a fresh snapshot")
            follower.cancel()
            #expect(watcher.session.sessionID == original)
            #expect(!watcherStates.states.contains(.expired))
            await writer.close()
            await watcher.close()
        }
    }

    /// A server that could not bind its client port, because another process's server took it
    /// between the check before the start and the JVM's bind, is not taken for ready although a
    /// ZooKeeper answers there: the tests would talk to that other server. The other server here
    /// is the shared ZooKeeper, seen through a relay that holds the port and refuses connections
    /// until the JVM is started (so the check before the start finds nothing).
    @Test func aServerWhosePortAnotherServerTookIsNotTakenForReady() async throws {
        let relay = try TCPRelay(upstreams: [TestEnvironment.zookeeperHosts[0]]) { false }
        defer { relay.stop() }
        relay.cut()
        let port = try #require(relay.address.split(separator: ":").last.flatMap { Int($0) })
        let server = try TestServer(id: 1, clientPort: port, tickTime: 1000)
        try await withTestServers([server]) {
            try await server.start(waitUntilReady: false)
            relay.heal()
            #expect(server.mode() != nil, "another ZooKeeper answers on the server's port")
            let error = await #expect(throws: CoordinationError.self, "the server never served its port") {
                try await server.waitUntilServing()
            }
            #expect(error?.message.contains("ZooKeeper on port \(port) exited before serving") == true, "\(error?.message ?? "")")
        }
    }

    /// A 3-node ensemble loses its leader while a writer and a watcher run: they only see
    /// suspended/reconnected (never an expiry), the writer goes on, the watcher converges.
    /// A server that stops answering times a read and a write out with `timeout` (the C client
    /// gives up after two thirds of the session timeout), as etcd does (EtcdServerTests.frozenServerTimesOperationsOut).
    @Test func frozenServerTimesOperationsOut() async throws {
        let server = try TestServer(id: 1, clientPort: 22240, tickTime: 1000)
        try await withTestServers([server]) {
            try await server.start()
            let store = try await ZooKeeperTestEnvironment.openStore(namespace: try Key("/frozen"), hosts: [server.host], sessionTimeout: .seconds(6))
            let key = try Key("/k")
            _ = try await store.create(key, value: [1], mode: .persistent)
            let pid = try #require(server.pid)
            try #require(ProcessTable.listens(pid, on: server.clientPort), "the process frozen below is the one serving the store's port")
            // Frozen here, until every thread stopped: the requests below must all meet a stopped server.
            try await ProcessTable.freeze(pid)
            await expectFrozenServerTimesOut(store, key: key, freeze: {}, thaw: { _ = server.signal(SIGCONT) })
            await store.close()
        }
    }

    @Test func leaderFailureInEnsemble() async throws {
        let members = (1...3).map { (id: $0, peer: 22210 + $0, election: 22220 + $0) }
        let servers = try members.map { try TestServer(id: $0.id, clientPort: 22200 + $0.id, ensemble: members) }
        try await withTestServers(servers) {
            for server in servers { try await server.start(waitUntilReady: false) }
            for server in servers { try await server.waitUntilServing(within: .seconds(60)) }
            let hosts = servers.map(\.host)
            let namespace = ZooKeeperTestEnvironment.uniqueNamespace("ensemble")
            let watcher = try await ZooKeeperTestEnvironment.openStore(namespace: namespace, hosts: hosts, sessionTimeout: .seconds(15))
            let writer = try await ZooKeeperTestEnvironment.openStore(namespace: namespace, hosts: hosts, sessionTimeout: .seconds(15))
            let recorders = [SessionRecorder(watcher), SessionRecorder(writer)]
            let sessionIDs = [watcher.session.sessionID, writer.session.sessionID]
            let counter = try Key("/e/counter")
            _ = try await writer.create(counter, string: "0")
            let follower = WatchFollower(watcher.watch(try Key("/e"), scope: .subtree))
            try await follower.wait { $0[counter]?.string == "0" }

            let written = Atomic<Int>(0)
            let failures = Atomic<Int>(0)
            let writing = Task {
                var next = 1
                while !Task.isCancelled {
                    do {
                        _ = try await writer.set(counter, string: "\(next)")
                        next += 1
                        written.add(1, ordering: .relaxed)
                    } catch {
                        failures.add(1, ordering: .relaxed)
                        try? await Task.sleep(for: .milliseconds(50))  // back off while the ensemble elects
                    }
                }
            }
            try await waitUntil { written.load(ordering: .relaxed) >= 10 }
            let leader = try #require(servers.first { $0.mode() == "leader" })
            leader.kill()
            let atKill = written.load(ordering: .relaxed)
            try await waitUntil(within: .seconds(60)) { written.load(ordering: .relaxed) >= atKill + 20 }
            writing.cancel()
            _ = await writing.value

            let final = try #require(try await writer.get(counter))
            try await follower.wait { $0[counter] == final }
            follower.cancel()
            for recorder in recorders {
                #expect(Set(recorder.states).isSubset(of: [.connected, .suspended, .reconnected]), "\(recorder.states)")
            }
            #expect([watcher.session.sessionID, writer.session.sessionID] == sessionIDs)
            // Followers drop their clients while they elect a new leader.
            #expect(recorders.contains { $0.states.contains(.suspended) && $0.states.last == .reconnected }, "\(recorders.map(\.states))")
            await writer.close()
            await watcher.close()
        }
    }
}

/// Collects every session state a store reports.
final class SessionRecorder: Sendable {
    private final class Collected: Sendable { let states = Mutex<[SessionState]>([]) }
    private let collected = Collected()
    private let task: Task<Void, Never>

    init(_ store: some CoordinationStore) {
        let stream = store.sessionEvents()
        let collected = self.collected
        task = Task { for await event in stream { collected.states.withLock { $0.append(event.state) } } }
    }
    deinit { task.cancel() }

    var states: [SessionState] { collected.states.withLock { $0 } }
}

/// Retries `body` while the store reports a lost connection (the test's own writes only).
func retryingWhileDisconnected(_ body: () async throws -> Void) async throws {
    for _ in 0..<100 {
        do {
            return try await body()
        } catch let error as CoordinationError where [.connectionLoss, .timeout, .unavailable].contains(error.code) {
            try await Task.sleep(for: .milliseconds(100))
        }
    }
    try await body()
}

/// Polls `condition` (a counter the test's own task advances), failing after `timeout`.
func waitUntil(within timeout: Duration = .seconds(30), _ condition: @Sendable () -> Bool) async throws {
    let deadline = ContinuousClock.now + timeout
    while !condition() {
        guard ContinuousClock.now < deadline else { throw CoordinationError(.timeout, "condition not met within \(timeout)") }
        try await Task.sleep(for: .milliseconds(20))
    }
}
