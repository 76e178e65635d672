import Coordination
@testable import CoordinationZooKeeper
import CoordinationLocalServers
import CoordinationTestSupport
import Testing

/// An IPv6 host is written in brackets, as the README's store URLs show (`[::1]:2181`). The C
/// client resolved `[::1]` with the brackets: a URL naming only that host was refused ("the
/// ZooKeeper client refused the connect string", status 7), and one in a list was left out.
@Suite(.enabled(if: ZooKeeperTestEnvironment.runServerTests, ZooKeeperTestEnvironment.skipReason), .serverLoadLimit)
struct ZooKeeperIPv6HostTests {
    @Test func aBracketedIPv6HostIsReached() async throws {
        // The servers under test listen on IPv4; a relay on [::1] gives them an IPv6 address.
        let relay = try TCPRelay(upstreams: ZooKeeperTestEnvironment.hosts, listenOnIPv6: true) { false }
        defer { relay.stop() }
        #expect(relay.address.hasPrefix("[::1]:"))
        let namespace = ZooKeeperTestEnvironment.uniqueNamespace()
        let store = try await withDeadline("a store through \(relay.address) to open", limit: .seconds(30)) {
            try await StoreRegistry([.zookeeper]).open("zookeeper://\(relay.address)\(namespace.path)", logger: ZooKeeperTestEnvironment.logger)
        }
        _ = try await store.create(try Key("/k"), string: "v")
        #expect(try await store.get(try Key("/k"))?.value == Array("v".utf8))
        #expect(relay.connectionsMade > 0, "the store did not go through the IPv6 relay")
        await store.close()
        await ZooKeeperTestEnvironment.cleanUp(namespace)
    }
}

/// What `zookeeper_init` is given, without a server.
@Suite struct ZooKeeperClientConnectStringTests {
    @Test func theClientGetsIPv6HostsWithoutBrackets() {
        #expect(ClientConnectString.from("[::1]:2181") == "::1:2181")
        #expect(ClientConnectString.from("127.0.0.1:2181,[fe80::1%eth0]:2182,zk3:2183") == "127.0.0.1:2181,fe80::1%eth0:2182,zk3:2183")
        #expect(ClientConnectString.from("zk1:2181") == "zk1:2181")
    }
}
