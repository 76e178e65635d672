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
@Suite(
    .serialized,
    .serverLoadLimit,
    .enabled("needs the etcd binary (/usr/bin/etcd)") { SharedEtcd.isCI || FileManager.default.isExecutableFile(atPath: "/usr/bin/etcd") })
struct ForeignClusterTests {
    @Test func aMemberOfAnotherClusterIsRefusedByNameByCallsAndWatches() async throws {
        try await EtcdCluster.with { first in
            try await EtcdCluster.with { other in
                let store = try await EtcdStore(
                    endpoints: first.endpoints + other.endpoints, namespace: SharedEtcd.uniqueNamespace("foreign"), ttl: .seconds(10),
                    requestTimeout: .seconds(5), logger: Logger(label: "test.etcd.foreign"))
                let key = try Key("/k")
                _ = try await store.put(key, value: [1])
                var events = store.watch(key, scope: .subtree).makeAsyncIterator()
                #expect(try await next(&events, "the first snapshot").isSnapshot)

                await first.stop(first.members[0])
                let (firstEndpoint, otherEndpoint) = ("http://\(first.endpoints[0])", "http://\(other.endpoints[0])")
                func isRefusal(_ error: any Error) -> Bool {
                    guard let error = error as? CoordinationError, error.code == .invalidConfiguration else { return false }
                    return error.message.contains("\(otherEndpoint) is a member of another etcd cluster")
                        && error.message.contains("than \(firstEndpoint)") && error.message.contains("List the members of one cluster only")
                }
                await #expect { _ = try await store.get(key) } throws: { isRefusal($0) }
                await #expect {
                    _ = try await store.put(try Key("/written"), value: [2])
                } throws: { isRefusal($0) && ($0 as! CoordinationError).message.contains("This write reached it") }
                await #expect {
                    while true { _ = try await next(&events, "the watch to end") }
                } throws: { isRefusal($0) }
                await store.close()
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
