import Coordination
@testable import CoordinationEtcd
import CoordinationLocalServers
import CoordinationTestSupport
import Foundation
import Logging
import Testing

/// A follower whose etcd source compacted its history past the revision the follower's watch had
/// reached, while that watch was away: the watch cannot resume from there and begins again from a
/// snapshot, which the follower must copy with the keys that vanished meanwhile deleted (`/h/a`
/// and `/h/p/c2` are deleted last, so the snapshot is their only news). The etcd counterpart of
/// ``MigrationFollowOrderTests/convergesThroughResnapshot()``; on an etcd of its own, since a
/// compaction of the shared one would reach every other test's watches.
@Suite("StoreMigration follow: an etcd source compacted meanwhile", .serverLoadLimit)
struct MigrationFollowCompactionTests {
    @Test("follow leaves the target equal to the source when the etcd source compacted the changes its watch missed", .etcdBinary)
    func convergesThroughCompaction() async throws {
        let cluster = EtcdCluster(size: 1, folderPrefix: "coord-follow-compaction-")
        defer { cluster.stopAll() }
        let member = cluster.members[0]
        try await cluster.start(member)
        try await cluster.waitUntilServing()
        let logger = Logger(label: "test.follow.compaction")
        let source = try await EtcdStore(endpoints: cluster.endpoints, namespace: try Key("/app"), ttl: .seconds(10), logger: logger)
        let writer = try await EtcdStore(endpoints: cluster.endpoints, namespace: try Key("/app"), ttl: .seconds(10), logger: logger)
        let to = try TestHandles(.zookeeper, test: "followCompactionTarget")
        try await TestHandles.closing(to) {
            defer { Task { await source.close(); await writer.close() } }
            let target = try await to.open()
            _ = try await writer.put(MigrationFollowOrderTests.watched, value: MigrationFollowOrderTests.value(0))
            let followed = try await MigrationFollowOrderTests.followChurn(source, target, "etcd → zookeeper, compacted", writer: writer) {
                writeRest in
                source.pauseWatches(true)
                defer { source.pauseWatches(false) }
                try await writeRest()
                try await Self.compactAll(member)
            }
            #expect(followed.resnapshots >= 1, "the follower's watch began again from a snapshot")
        }
    }

    /// Compacts the member's whole history, up to its current revision.
    static func compactAll(_ member: EtcdCluster.Member) async throws {
        let status = try #require(await EtcdCluster.status(of: member), "the etcd member's status")
        let header = try #require(status["header"] as? [String: Any])
        let revision = try #require((header["revision"] as? String).flatMap(Int64.init), "the member's revision in \(header)")
        let body = #"{"revision":"\#(revision)","physical":true}"#
        _ = try #require(
            await LoopbackHTTP.postJSON(port: member.clientPort, path: "/v3/kv/compaction", body: body, timeout: .seconds(10)),
            "the compaction to revision \(revision)")
    }
}
