import Coordination
import CoordinationLocalServers
import Foundation

/// Three ZooKeeper servers on loopback: client ports base…base+2, quorum ports base+10…,
/// election ports base+20…. tickTime 250 ms as `compose/native` runs them, so that sessions
/// expire close to their timeout and a dead worker's runs are taken over quickly.
final class ZooKeeperEnsemble: ChaosCluster {
    let backend = ChaosBackend.zookeeper
    private let servers: [ZooKeeperServer]

    init(basePort: Int) throws {
        let members = (1...3).map { (id: $0, peer: basePort + 9 + $0, election: basePort + 19 + $0) }
        let timing = ZooKeeperServer.Timing(tickTime: 250, initLimit: 40, syncLimit: 20, minSessionTimeout: 1000, maxSessionTimeout: 60000)
        servers = try members.map {
            try ZooKeeperServer(id: $0.id, clientPort: basePort + $0.id - 1, ensemble: members, timing: timing, folderPrefix: "coord-chaos-zk-")
        }
    }

    var memberAddresses: [String] { servers.map(\.host) }

    var serverLogs: [(name: String, path: String)] {
        servers.map { ("zk\($0.id)", $0.directory.appendingPathComponent("server.log").path) }
    }

    func start() async throws {
        guard ZooKeeperServer.javaAvailable else {
            throw ChaosFailure("java or /usr/share/java/zookeeper.jar is missing (compose/native install)")
        }
        for server in servers { try await server.start(waitUntilReady: false) }
        try await waitUntilServing(within: .seconds(60))
    }

    func destroy() async {
        for server in servers { await OwnThread.run { server.destroy() } }
    }

    func kill(_ member: Int) async {
        let server = servers[member]
        // A stopped JVM dies of SIGKILL too; waiting for it blocks, so on a thread of its own.
        await OwnThread.run { server.kill() }
    }

    func terminate(_ member: Int) async {
        let server = servers[member]
        await OwnThread.run { server.terminate() }
    }

    func restart(_ member: Int) async throws {
        try await servers[member].start(waitUntilReady: false)
        try await waitUntilServing(within: .seconds(60))
    }

    func signal(_ member: Int, _ signal: Int32) -> Bool {
        servers[member].signal(signal)
    }

    func waitUntilServing(within limit: Duration) async throws {
        let deadline = ContinuousClock.now + limit
        for server in servers {
            while await OwnThread.run({ server.mode() }) == nil {
                guard ContinuousClock.now < deadline else {
                    throw ChaosFailure("ZooKeeper on port \(server.clientPort) does not serve after \(limit); see \(server.directory.path)/server.log")
                }
                try await Task.sleep(for: .milliseconds(100))  // readiness poll: the server offers no event
            }
        }
    }

    func leader() async -> Int? {
        for (index, server) in servers.enumerated() where await OwnThread.run({ server.mode() }) == "leader" {
            return index
        }
        return nil
    }

    func storeURL(hosts: [String], namespace: String, ttl: Duration) -> String {
        "zookeeper://\(hosts.joined(separator: ","))/\(namespace)?sessionTimeout=\(ttl.urlText)"
    }

    func compactNow() async throws -> Int64? { nil }
}
