import Coordination
@testable import CoordinationEtcd
import CoordinationLocalServers
import CoordinationTestSupport
import Foundation
import Logging
import Testing

/// The member a handle uses is removed from its cluster (`etcdctl member remove`, as when a
/// machine is retired): the handle goes on through the others, its watches with it.
@Suite(.serialized, .serverLoadLimit, .etcdBinary)
struct MemberRemovalTests {
    @Test func aHandleGoesOnThroughTheOthersWhenItsMemberIsRemoved() async throws {
        // etcd refuses to remove a member of a cluster younger than 5 s ("unhealthy cluster"),
        // unless it skips that check.
        let arguments = QuorumLossMessageTests.fastElections + ["--strict-reconfig-check=false"]
        try await EtcdCluster.with(size: 3, arguments: arguments) { cluster in
            let store = try await EtcdStore(
                endpoints: cluster.endpoints, namespace: SharedEtcd.uniqueNamespace("removal"), ttl: .seconds(10),
                requestTimeout: .seconds(5), logger: Logger(label: "test.etcd.removal"))
            let key = try Key("/k")
            _ = try await store.put(key, value: [1])
            var events = store.watch(key, scope: .subtree).makeAsyncIterator()
            let snapshot = try await next(&events, "the first snapshot")
            guard case .snapshot = snapshot else { Issue.record("\(snapshot)"); return }

            var others = cluster.admin
            others.endpoints = Array(cluster.endpoints.dropFirst())
            let list = try await others.call("/v3/cluster/member/list", [:])
            let removed = try #require(list["members"]?.arrayValue.first { $0["name"]?.stringValue == cluster.members[0].name })
            _ = try await others.call("/v3/cluster/member/remove", ["ID": try #require(removed["ID"])])

            // The removed member answers "raft: stopped" until it exits: a read goes on to
            // another member, and so does every call after it.
            #expect(try await store.get(key)?.value == [1])
            let after = try Key("/k/after")
            _ = try await store.put(after, value: [2])
            #expect(try await store.get(after)?.value == [2])
            let event = try await next(&events, "the put after the removal")
            guard case .put(let record) = event else { Issue.record("\(event)"); return }
            #expect(record.key == (after))
            await store.close()
        }
    }
}
