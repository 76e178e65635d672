import Coordination
import CoordinationZooKeeper
import CoordinationLocalServers
import CoordinationTestSupport
import Testing

/// ZooKeeper's own `/zookeeper`, seen under no namespace. On a server of the test's own: listing
/// the shared dev server's whole tree would walk into other tests' namespaces, some of them
/// closed to this test by their ACL while it runs.
@Suite(.serialized, .enabled(if: TestServer.runTests, TestServer.skipReason), .serverLoadLimit)
struct ServersOwnTreeTests {
    /// Under no namespace, `/zookeeper` is no key and no foreign key either, while a foreign
    /// znode beside it is listed.
    @Test func theServersOwnTreeIsNoForeignKey() async throws {
        try await PythonScript.require("kazoo", install: Kazoo.install)
        let server = try TestServer(id: 1, clientPort: 22250, ensemble: [], timing: .init())
        try await withTestServers([server]) {
            try await server.start()
            let store = try await ZooKeeperTestEnvironment.openStore(namespace: .root, hosts: [server.host])
            let long = String(repeating: "l", count: CoordinationLimits.maxKeyBytes)  // `/` + it is over the limit
            _ = try await Kazoo.run("write", ["/" + long: ""], hosts: [server.host])
            _ = try await store.create(try Key("/plain"), string: "p")
            let foreign = try await store.foreignKeys(under: .root)
            let names = try await store.children(of: .root)
            await store.close()
            #expect(foreign == ["/" + long], "\(foreign)")
            #expect(names == ["plain"])
        }
    }
}
