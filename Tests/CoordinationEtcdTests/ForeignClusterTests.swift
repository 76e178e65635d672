import Coordination
@testable import CoordinationEtcd
import CoordinationLocalServers
import CoordinationTestSupport
import Foundation
import Logging
import Testing

/// A store URL that lists members of two etcd clusters: once the member the handle used is gone,
/// the other cluster answers. It must be refused by name, not followed: the handle went on there
/// in silence, with other keys and a second holder of every lock.
@Suite(.serialized, .serverLoadLimit, .etcdBinary)
struct ForeignClusterTests {
    @Test func aMemberOfAnotherClusterIsRefusedByNameByCallsAndWatchesAndGetsNoWrite() async throws {
        try await EtcdCluster.with { first in
            try await EtcdCluster.with { other in
                // The other cluster holds the same namespace (staging's cluster and production's,
                // say): a write that reached it would be applied.
                let namespace = SharedEtcd.uniqueNamespace("foreign")
                let onOther = try await EtcdStore(
                    endpoints: other.endpoints, namespace: namespace, ttl: .seconds(10), requestTimeout: .seconds(5),
                    logger: Logger(label: "test.etcd.foreign.other"))
                _ = try await onOther.put(try Key("/theirs"), value: [9])
                let store = try await EtcdStore(
                    endpoints: first.endpoints + other.endpoints, namespace: namespace, ttl: .seconds(10),
                    requestTimeout: .seconds(5), logger: Logger(label: "test.etcd.foreign"))
                let key = try Key("/k")
                _ = try await store.put(key, value: [1])
                var events = store.watch(key, scope: .subtree).makeAsyncIterator()
                #expect(try await next(&events, "the first snapshot").isSnapshot)

                await first.stop(first.members[0])
                let (firstEndpoint, otherEndpoint) = ("http://\(first.endpoints[0])", "http://\(other.endpoints[0])")
                func isRefusal(_ error: any Error, ending: String? = nil) -> Bool {
                    guard let error = error as? CoordinationError, error.code == .invalidConfiguration else { return false }
                    return error.message.contains("\(otherEndpoint) is a member of another etcd cluster")
                        && error.message.contains("than \(firstEndpoint)") && error.message.contains("List the members of one cluster only")
                        && ending.map { error.message.hasSuffix($0) } ?? true
                }
                // The first request after the member went is a write: the other cluster is asked
                // which it is before the write goes there, and so never gets it.
                let written = try Key("/written")
                await #expect {
                    _ = try await store.put(written, value: [2])
                } throws: { isRefusal($0, ending: "The write was not sent there.") }
                await #expect { _ = try await store.get(key) } throws: { isRefusal($0) }
                await #expect {
                    _ = try await store.create(try Key("/created"), value: [3])
                } throws: { isRefusal($0, ending: "The write was not sent there.") }
                await #expect {
                    while true { _ = try await next(&events, "the watch to end") }
                } throws: { isRefusal($0) }
                await store.close()

                #expect(try await onOther.get(written) == nil, "the other cluster got the put")
                #expect(try await onOther.get(try Key("/created")) == nil, "the other cluster got the create")
                await onOther.close()
            }
        }
    }
}

extension WatchEvent {
    fileprivate var isSnapshot: Bool {
        if case .snapshot = self { return true }
        return false
    }
}
