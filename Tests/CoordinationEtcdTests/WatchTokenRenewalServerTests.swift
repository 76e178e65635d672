import Coordination
@testable import CoordinationEtcd
import CoordinationLocalServers
import Foundation
import Logging
import Testing

extension EtcdServerTests {
    /// etcd 3.4 refuses a watch whose token expired (or was lost with a restart: simple tokens
    /// live in the member's memory) not with an error but with a `created` and `canceled` result
    /// whose `cancel_reason` says "Unauthenticated". The watch took that for a stream that ended
    /// without progress and tried again with the same token, for ever: a store that only watches
    /// (keep-alives are not checked for a token, so nothing else renews it) never heard of another
    /// write. It must log in again and resume where it was.
    @Test func aWatchResumingWithAnExpiredTokenLogsInAgain() async throws {
        try await EtcdCluster.with(arguments: ["--auth-token-ttl", "1"]) { cluster in
            try await cluster.admin.enableRootAuth(password: "s3cret")

            let watcher = try await open(cluster, ttl: .seconds(30), user: "root", password: "s3cret")
            let writer = try await open(cluster, ttl: .seconds(30), user: "root", password: "s3cret")
            let key = try Key("/tokens")
            var events = watcher.watch(key).makeAsyncIterator()
            guard case .snapshot = try await next(&events, "the first snapshot") else {
                Issue.record("the first event must be a snapshot")
                return
            }
            let firstToken = watcher.gateway.currentToken
            // The stream drops while the token expires: it lives 1 s past its last use (a wait on
            // the server's clock, not a sync).
            watcher.pauseWatches(true)
            try await Task.sleep(for: .seconds(3))
            watcher.pauseWatches(false)

            let written = try await writer.create(key, value: [7], mode: .persistent)
            #expect(try await next(&events, "the write after the token expired") == .put(written), "resumed from the last revision seen")
            #expect(watcher.gateway.currentToken != firstToken, "the watch logged in again")
            await writer.close()
            await watcher.close()
        }
    }
}
