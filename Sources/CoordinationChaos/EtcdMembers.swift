import Coordination
import CoordinationLocalServers
import Foundation

/// A 3-member etcd cluster on loopback: client/peer ports base…base+5.
final class EtcdMembers: ChaosCluster {
    let backend = ChaosBackend.etcd
    private let cluster: EtcdCluster

    init(basePort: Int) {
        // Compacting every 10 s, as a well-kept etcd does (and compose/native's): a watch cut off
        // for longer by a fault finds its revision compacted and must resync with a snapshot.
        cluster = EtcdCluster(
            size: 3, basePort: basePort, extraArguments: ["--auto-compaction-mode", "periodic", "--auto-compaction-retention", "10s"],
            folderPrefix: "coord-chaos-etcd-")
    }

    var memberAddresses: [String] { cluster.endpoints }

    var serverLogs: [(name: String, path: String)] { cluster.members.map { ($0.name, cluster.root + "/\($0.name).log") } }

    func start() async throws {
        guard FileManager.default.isExecutableFile(atPath: "/usr/bin/etcd") else {
            throw ChaosFailure("/usr/bin/etcd is missing (compose/native install)")
        }
        for member in cluster.members { try await cluster.start(member) }
        try await waitUntilServing(within: .seconds(60))
    }

    func destroy() async {
        let cluster = cluster
        await OwnThread.run { cluster.stopAll() }
    }

    func kill(_ member: Int) async {
        let cluster = cluster
        await OwnThread.run { cluster.stop(cluster.members[member], kill: true) }
    }

    func terminate(_ member: Int) async {
        let cluster = cluster
        await OwnThread.run { cluster.stop(cluster.members[member], kill: false) }
    }

    func restart(_ member: Int) async throws {
        try await cluster.start(cluster.members[member])
        try await waitUntilServing(within: .seconds(60))
    }

    func signal(_ member: Int, _ signal: Int32) -> Bool {
        guard let pid = cluster.pid(of: cluster.members[member]) else { return false }
        return Foundation.kill(pid, signal) == 0
    }

    func waitUntilServing(within limit: Duration) async throws {
        do {
            try await cluster.waitUntilServing(within: limit)
        } catch let error as CoordinationError {
            throw ChaosFailure(error.message)
        }
    }

    func leader() async -> Int? {
        guard let leader = await cluster.leader() else { return nil }
        return cluster.members.firstIndex { $0.name == leader.name }
    }

    func storeURL(hosts: [String], namespace: String, ttl: Duration) -> String {
        "etcd://\(hosts.joined(separator: ","))/\(namespace)?ttl=\(ttl.urlText)"
    }

    func compactNow() async throws -> Int64? {
        for member in cluster.members where cluster.isStarted(member) {
            guard let status = await EtcdCluster.status(of: member), let header = status["header"] as? [String: Any],
                let revision = (header["revision"] as? String).flatMap(Int64.init)
            else { continue }
            let body = #"{"revision":"\#(revision)","physical":true}"#
            if await LoopbackHTTP.postJSON(port: member.clientPort, path: "/v3/kv/compaction", body: body, timeout: .seconds(10)) != nil {
                return revision
            }
        }
        throw ChaosFailure("no etcd member compacted its history")
    }
}
