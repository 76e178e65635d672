import CoordinationTestSupport
import Foundation
import Testing

/// coord reaches etcd directly, as the ZooKeeper client reaches ZooKeeper: proxies named in the
/// environment for other traffic do not come between. curl took them, and a proxy that refused
/// made "cannot reach etcd (connection refused); is the server running?" of a running etcd.
@Suite("coord and proxies named in the environment", .serverLoadLimit)
struct EtcdProxyEnvironmentTests {
    @Test("coord on etcd connects directly with every proxy variable curl reads naming a listener, which sees no connection")
    func proxyVariablesAreNotUsed() async throws {
        let handles = try TestHandles(.etcd)
        let url = try #require(TestBackend.etcd.url(handles.namespace, ttl: handles.ttl))
        let proxy = try LoopbackListener()
        let address = "http://127.0.0.1:\(proxy.port)"
        let variables = ["http_proxy", "HTTPS_PROXY", "https_proxy", "ALL_PROXY", "all_proxy"]
        let coord = try CoordProcess(environment: Dictionary(uniqueKeysWithValues: variables.map { ($0, address) }))
        defer { coord.removeDirectory() }
        let put = try await coord.run(["--store", url, "kv", "put", "/proxied", "direct"])
        #expect(put.status == 0, "\(put.stderr)")
        let get = try await coord.run(["--store", url, "kv", "get", "/proxied"])
        #expect(get.status == 0 && get.stdoutText == "direct", "\(get.stderr)")
        #expect(!proxy.hadConnection(), "coord went through the proxy")
        #expect(proxy.connectOnce() && proxy.hadConnection(), "the listener sees a connection when one is made")
        await handles.closeAll()
    }
}
