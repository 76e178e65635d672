import Coordination
import CoordinationLocalServers
import CoordinationTestSupport
import Foundation
import Testing

/// `coord worker` is a service: started while its store cannot be reached (the server down or
/// still starting), it waits for it instead of exiting, and joins once it can.
@Suite("coord worker waits for a store it cannot reach yet", .serverLoadLimit)
struct WorkerWaitsForStoreTests {
    @Test("a worker started before its store is reachable joins once it is", arguments: SchedulerProcessTests.servers)
    func workerWaitsForTheStore(backend: TestBackend) async throws {
        let handles = try TestHandles(backend)
        let coord = try CoordProcess()
        defer { coord.removeDirectory() }
        let relay = try Self.relay(to: backend)
        defer { relay.stop() }
        // Until healed, the relay accepts each connection and hangs up at once: to the worker,
        // no server is there (on ZooKeeper each try then waits out the session timeout).
        relay.cut()
        let direct = try #require(backend.url(handles.namespace, ttl: handles.ttl))
        let url = Self.url(direct, throughHost: relay.address)
        let worker = try await SchedulerProcessTests.Background(
            coord, ["--store", url, "worker", "--id", "patient", "--log-level", "warning"], name: "patient")
        // A worker that waits for ever must not outlive a failed test.
        defer { if worker.process.isRunning { kill(worker.process.processIdentifier, SIGKILL) } }

        // The worker says it waits, and keeps running.
        try await worker.waitFor("cannot open the store yet", inStderr: true)
        try #require(worker.process.isRunning, "the worker exited: \(worker.stderr)")

        // The server comes within reach: the worker joins the group.
        relay.heal()
        let store = try await handles.open()
        #expect(try await Self.joined("patient", in: store, limit: .seconds(40)), "\(worker.stderr)")
        #expect(await worker.terminate() == 0, "\(worker.stderr)")
        await handles.closeAll()
    }

    /// What waiting cannot cure still ends the worker at once: here a TLS option on a plain
    /// etcd:// URL, which opening the store refuses (past the configuration checks before it).
    @Test func badInputStillFailsAtOnce() async throws {
        try TestBackend.etcd.require()
        let coord = try CoordProcess()
        defer { coord.removeDirectory() }
        let result = try await coord.run([
            "--store", "etcd://\(TestEnvironment.etcdEndpoints[0])/x?cacert=/nonexistent/ca.pem", "worker",
        ])
        #expect(result.status == 7, "\(result.stderr)")
        #expect(result.stderr.contains("cacert"), "\(result.stderr)")
        #expect(!result.stderr.contains("cannot open the store yet"), "\(result.stderr)")
    }

    /// Whether worker `id` joins the scheduler's workers within `limit`.
    static func joined(_ id: String, in store: any CoordinationStore, limit: Duration) async throws -> Bool {
        let workers = try Key("/scheduler/workers")
        return try await withDeadline("worker \(id) to join", limit: limit) {
            for try await event in store.watch(workers, scope: .children) {
                switch event {
                case .snapshot(let records): if records.contains(where: { $0.key.name == id }) { return true }
                case .put(let record): if record.key.name == id { return true }
                case .delete: break
                }
            }
            return false
        }
    }

    /// A relay in front of the backend's first server, which the test can cut and heal.
    static func relay(to backend: TestBackend) throws -> TCPRelay {
        let upstream = backend.name == "zookeeper" ? TestEnvironment.zookeeperHosts[0] : TestEnvironment.etcdEndpoints[0]
        return try TCPRelay(upstreams: [upstream], isFinished: { false })
    }

    /// A relay in front of `backend` and the URL of `handles`' namespace through it.
    static func relayed(_ backend: TestBackend, _ handles: TestHandles) throws -> (relay: TCPRelay, url: String) {
        let relay = try relay(to: backend)
        guard let direct = backend.url(handles.namespace, ttl: handles.ttl) else {
            relay.stop()
            throw CoordinationError(.unsupported, "\(backend.name) has no store URL")
        }
        return (relay, url(direct, throughHost: relay.address))
    }

    /// `url` with its host list replaced by `host`.
    static func url(_ url: String, throughHost host: String) -> String {
        guard let schemeEnd = url.range(of: "://") else { return url }
        let rest = url[schemeEnd.upperBound...]
        let hostsEnd = rest.firstIndex { $0 == "/" || $0 == "?" } ?? rest.endIndex
        return String(url[..<schemeEnd.upperBound]) + host + String(rest[hostsEnd...])
    }
}
