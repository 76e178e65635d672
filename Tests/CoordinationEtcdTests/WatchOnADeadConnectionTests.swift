import Coordination
@testable import CoordinationEtcd
import CoordinationLocalServers
import CoordinationTestSupport
import Testing

/// A watch stream whose connection dies without a word (a NAT, proxy or partition that drops it
/// with no FIN or RST, while the path still acknowledges, as a relay that holds bytes does) must
/// not wait on it for ever: the contract forbids a watch that silently misses events.
@Suite(.enabled("needs etcd (ETCD_ENDPOINTS, default 127.0.0.1:2379)") { await SharedEtcd.shouldRun() }, .serverLoadLimit)
struct WatchOnADeadConnectionTests {
    /// Every connection the handle had goes dead at once: the session is `suspended`, then
    /// `reconnected` on a new connection. The watch, on its own dead connection, resumes then
    /// from its last revision: the change made meanwhile comes, once, and so do later ones.
    @Test func aWatchOnADeadConnectionResumesWhenTheSessionComesBack() async throws {
        let namespace = SharedEtcd.uniqueNamespace()
        let relay = try TCPRelay(upstreams: SharedEtcd.endpoints) { false }
        defer { relay.stop() }
        // A TTL with room for the reconnection: with 3 s, a fresh-clone CI run under load (and
        // once a 3-node run) found the lease expired before the new connection's keep-alive landed.
        let store = try await SharedEtcd.open(namespace, ttl: .seconds(9), endpoints: [relay.address])
        let direct = try await SharedEtcd.open(namespace)
        let key = try Key("/watched")
        func value(_ event: WatchEvent) -> String? {
            guard case .put(let record) = event else { return nil }
            return String(decoding: record.value, as: UTF8.self)
        }
        try await SharedEtcd.using([store, direct], in: namespace) {
            var states = store.sessionEvents().makeAsyncIterator()
            #expect(try await next(&states, "the current session state").state == .connected)
            var events = store.watch(key, scope: .key).makeAsyncIterator()
            guard case .snapshot(let records) = try await next(&events, "the snapshot") else {
                Issue.record("a watch starts with a snapshot")
                throw CancellationError()
            }
            #expect(records.isEmpty)
            _ = try await direct.create(key, string: "before")
            #expect(value(try await next(&events, "the change before the cut")) == "before", "the stream is live")
            // The session's (its grant's, kept for the keep-alives), the store's, the watch's.
            try await withDeadline("the watch's connection") {
                while relay.connectionsMade < 3 { try await Task.sleep(for: .milliseconds(10)) }
            }
            relay.freezeConnections()
            _ = try await direct.set(key, string: "meanwhile")
            let suspended = try await next(&states, "suspended while the keep-alive's connection is dead")
            #expect(suspended.state == .suspended)
            let back = try await next(&states, "back through a new connection", timeout: .seconds(10))
            #expect(back.state == .reconnected)
            #expect(
                value(try await next(&events, "the change made while the watch's connection was dead", timeout: .seconds(5))) == "meanwhile")
            _ = try await direct.set(key, string: "after")
            #expect(value(try await next(&events, "the change after")) == "after", "nothing repeated")
        }
    }
}
