import CoordinationLocalServers
import Foundation
import Testing

/// A 3-member cluster whose peer traffic runs through a ``PeerRelay`` per member, with short
/// election timeouts so that a cut-off member notices within a second.
struct PartitionableCluster {
    let etcd: EtcdCluster
    let relays: [String: PeerRelay]

    static func with(_ body: (PartitionableCluster) async throws -> Void) async throws {
        let etcd = EtcdCluster(size: 3, extraArguments: ["--heartbeat-interval", "50", "--election-timeout", "500"])
        var relays: [String: PeerRelay] = [:]
        defer {
            etcd.stopAll()
            for relay in relays.values { relay.stop() }
        }
        for member in etcd.members {
            let relay = try PeerRelay(upstreamPort: member.peerPort)
            relays[member.name] = relay
            etcd.advertisePeer(of: member, at: relay.address)
        }
        for member in etcd.members { try await etcd.start(member) }
        try await etcd.waitUntilHealthy()
        try await body(PartitionableCluster(etcd: etcd, relays: relays))
    }

    /// A member that does not lead: cut off, it leaves the others their leader.
    func follower() async throws -> EtcdCluster.Member {
        let leader = try #require(await etcd.leader(), "a 3-member cluster elects a leader")
        return try #require(etcd.members.first { $0.name != leader.name })
    }

    /// Cuts `member` off from the others, both ways; its client port stays up.
    func isolate(_ member: EtcdCluster.Member) async throws {
        let id = try await memberID(of: member)
        for (name, relay) in relays {
            if name == member.name { relay.isolate(true) } else { relay.refuse(senders: [id]) }
        }
    }

    /// The member's id as etcd's peers name it in `X-Server-From` (lower-case hex).
    private func memberID(of member: EtcdCluster.Member) async throws -> String {
        let reply = try #require(
            await LoopbackHTTP.postJSON(port: member.clientPort, path: "/v3/cluster/member/list", body: "{}")?.object)
        let members = try #require(reply["members"] as? [[String: Any]])
        let decimal = try #require(members.first { $0["name"] as? String == member.name }?["ID"] as? String)
        return String(try #require(UInt64(decimal)), radix: 16)
    }
}
