import Coordination
@testable import CoordinationEtcd
import CoordinationLocalServers
import CoordinationTestSupport
import Testing

/// A write whose endpoint refuses the connection was never sent, so it goes on to the next
/// endpoint. `failsOverFromADeadEndpoint` does not show it: there the session's grant meets the
/// dead endpoint first and moves the handle on, so its writes never see a refusal.
@Suite(.enabled("needs etcd (ETCD_ENDPOINTS, default 127.0.0.1:2379)") { await SharedEtcd.shouldRun() }, .serverLoadLimit)
struct WriteFailoverTests {
    @Test func aWriteToAnEndpointThatRefusesConnectionsGoesToTheNext() async throws {
        let namespace = SharedEtcd.uniqueNamespace()
        let admin = EtcdAdmin(endpoints: SharedEtcd.endpoints)
        let relay = try TCPRelay(upstreams: SharedEtcd.endpoints) { false }
        defer { relay.stop() }
        // A long TTL: no keep-alive comes between the relay's stop and the write to move the
        // handle on before the write does.
        let store = try await SharedEtcd.open(namespace, ttl: .seconds(60), endpoints: [relay.address] + SharedEtcd.endpoints)
        do {
            _ = try await store.create(try Key("/before"), value: [1], mode: .persistent)
            #expect(relay.connectionsMade > 0, "the handle used the first endpoint")
            relay.stop()
            // A read meets the connections the stop dropped (a request on one of those may have
            // gone out: a write there is rightly not sent again) and moves on; pointing the handle
            // back at the stopped endpoint leaves the write only a refused connect to meet.
            #expect(try await store.get(try Key("/before"))?.value == [1])
            // Round to the first, however many members the tests' cluster has.
            while store.gateway.preferredEndpoint != 0 { store.gateway.rotateEndpoint(from: store.gateway.preferredEndpoint) }
            try #require(store.gateway.preferredEndpoint == 0, "the write below starts at the stopped endpoint")
            let written = try await store.create(try Key("/after"), value: [2], mode: .persistent)
            #expect(try await store.get(try Key("/after")) == written)
            #expect(store.gateway.preferredEndpoint == 1, "later requests start at the endpoint that answered")
        } catch {
            await store.close()
            try? await admin.deletePrefix(namespace.path)
            throw error
        }
        await store.close()
        try? await admin.deletePrefix(namespace.path)
    }
}
