import Coordination
import CoordinationLocalServers
import CoordinationTestSupport
import Foundation
import Logging
import Testing

@testable import CoordinationEtcd

/// A cluster without a quorum is a server problem that only starting members mends; etcd's own
/// words ("etcdserver: no leader", or nothing at all) name no cause, so the refusal does.
@Suite(.serialized, .serverLoadLimit, .etcdBinary)
struct QuorumLossMessageTests {
    static let fastElections = ["--heartbeat-interval", "50", "--election-timeout", "500"]

    func open(_ endpoint: String) async throws -> EtcdStore {
        try await EtcdStore(
            endpoints: [endpoint], namespace: SharedEtcd.uniqueNamespace("quorum"), ttl: .seconds(10), requestTimeout: .seconds(2),
            logger: Logger(label: "test.etcd.quorum"))
    }

    @Test func aClusterThatLostItsQuorumIsNamedSo() async throws {
        try await EtcdCluster.with(size: 3, arguments: Self.fastElections) { cluster in
            let survivor = cluster.members[0]
            let store = try await open("127.0.0.1:\(survivor.clientPort)")
            _ = try await store.create(try Key("/before"), value: [1], mode: .persistent)
            for member in cluster.members.dropFirst() { await cluster.stop(member, kill: true) }
            let error = await #expect(throws: CoordinationError.self) {
                _ = try await store.create(try Key("/after"), value: [2], mode: .persistent)
            }
            // The member says "no leader" once it knows, or holds the request until the time-out
            // (one that reached it as its leader went): either way the refusal names the quorum.
            #expect(error?.code == .unavailable || error?.code == .timeout, "\(String(describing: error))")
            let named = [
                "its cluster has no leader (etcdserver: no leader): fewer than a majority of the cluster's members run",
                "a member whose cluster has no quorum may answer nothing until a majority of its members run",
            ]
            #expect(named.contains { error?.message.contains($0) == true }, "\(String(describing: error))")
            await store.close()
        }
    }

    @Test func aNewClustersLoneMemberIsNamedSo() async throws {
        let cluster = EtcdCluster(size: 3, extraArguments: Self.fastElections)
        defer { cluster.stopAll() }
        // One of three started: it takes connections, and answers nothing until a majority runs.
        try await cluster.start(cluster.members[0])
        let pid = try #require(cluster.pid(of: cluster.members[0]))
        try await withDeadline("the lone member to listen") {
            // A readiness poll: the process offers no event for having bound its port.
            while await !OwnThread.run({ ProcessTable.listens(pid, on: cluster.members[0].clientPort) }) {
                try await Task.sleep(for: .milliseconds(100))
            }
        }
        let error = await #expect(throws: CoordinationError.self) { _ = try await open(cluster.endpoints[0]) }
        #expect(error?.code == .timeout, "\(String(describing: error))")
        #expect(
            error?.message.contains("a member whose cluster has no quorum may answer nothing until a majority of its members run") == true,
            "\(String(describing: error))")
    }
}
