import Coordination
@testable import CoordinationEtcd
import CoordinationLocalServers
import CoordinationTestSupport
import Foundation
import Logging
import Testing

/// A member cut off from the rest of its cluster while its client port stays up: it still
/// answers, but sees no writes. Requests that ask for a leader (`Grpc-Metadata-hasleader`) are
/// refused there, so the store moves on to a member that can serve them.
@Suite(.serialized, .serverLoadLimit, .etcdBinary)
struct IsolatedMemberTests {
    let namespace = SharedEtcd.uniqueNamespace("isolated")

    @Test func aWatchOnAnIsolatedMemberMovesToAnotherAndMissesNothing() async throws {
        try await PartitionableCluster.with { cluster in
            let isolated = try await cluster.follower()
            let store = try await open(cluster, isolatedFirst: isolated)
            let writer = try await open(cluster, without: isolated)
            let root = try Key("/watched")
            _ = try await writer.create(root, value: [], mode: .persistent)
            var events = store.watch(root, scope: .subtree).makeAsyncIterator()
            guard case .snapshot = try await next(&events, "the first snapshot") else {
                Issue.record("a watch starts with a snapshot")
                return
            }
            try await cluster.isolate(isolated)
            // The others keep their quorum: these writes succeed while the isolated member sees none.
            let first = try await writer.create(try root.child("first"), value: [1], mode: .persistent)
            let second = try await writer.create(try root.child("second"), value: [2], mode: .persistent)
            // Without a leader requirement the watch would wait on the isolated member for as long
            // as the partition lasts (the whole test); with it, the member cancels the watch after
            // about three election timeouts (0.5 s each here).
            #expect(try await next(&events, "the first write, on another member", timeout: .seconds(12)) == .put(first))
            #expect(try await next(&events, "the second write, in order", timeout: .seconds(5)) == .put(second))
            await store.close()
            await writer.close()
        }
    }

    /// The session's keep-alive moves off the isolated member too: the session outlives a
    /// partition longer than its TTL, ephemeral keys included.
    @Test func aSessionOnAnIsolatedMemberOutlivesAPartitionLongerThanItsTTL() async throws {
        try await PartitionableCluster.with { cluster in
            let isolated = try await cluster.follower()
            let store = try await open(cluster, isolatedFirst: isolated, ttl: .seconds(2))
            let reader = try await open(cluster, without: isolated)
            let ephemeral = try Key("/isolated-session")
            _ = try await store.create(ephemeral, value: [1], mode: .ephemeral)
            let session = store.session
            let changes = store.sessionEvents()
            let expiry = Task {
                for await event in changes where event.state == .expired { return true }
                return false
            }
            try await cluster.isolate(isolated)
            // No event marks "the TTL passed without an expiry": the partition simply lasts past
            // it, twice over, while the keep-alive is due every third of it.
            try await Task.sleep(for: session.ttl * 2 + .seconds(1))
            #expect(store.session.sessionID == session.sessionID, "the same session goes on: \(store.session)")
            #expect(try await reader.get(ephemeral)?.value == [1], "the session's ephemeral key outlives the partition")
            expiry.cancel()
            #expect(await expiry.value == false, "the session never expired during the partition")
            await store.close()
            await reader.close()
        }
    }

    private func open(_ cluster: PartitionableCluster, isolatedFirst isolated: EtcdCluster.Member, ttl: Duration = .seconds(10))
        async throws -> EtcdStore
    {
        let endpoints = ["127.0.0.1:\(isolated.clientPort)"] + cluster.etcd.endpoints.filter { $0 != "127.0.0.1:\(isolated.clientPort)" }
        return try await EtcdStore(
            endpoints: endpoints, namespace: namespace, ttl: ttl, requestTimeout: .seconds(5), logger: Logger(label: "test.etcd.isolated"))
    }

    private func open(_ cluster: PartitionableCluster, without isolated: EtcdCluster.Member) async throws -> EtcdStore {
        try await EtcdStore(
            endpoints: cluster.etcd.endpoints.filter { $0 != "127.0.0.1:\(isolated.clientPort)" }, namespace: namespace,
            ttl: .seconds(10), requestTimeout: .seconds(5), logger: Logger(label: "test.etcd.isolated"))
    }
}
