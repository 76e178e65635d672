import Coordination
import CoordinationLocalServers
import CoordinationTestSupport
import Foundation
import Testing

/// `coord config check` on a URL listing several hosts asks each on its own: a member of another
/// etcd cluster among them was found only once the handle moved there (the host it used had
/// failed), and a host that was down not at all.
@Suite("coord config check, host by host", .serverLoadLimit)
struct ConfigCheckEndpointsTests {
    @Test("each host gets a line; a member of another cluster fails the check (7), a host that is down does not", .etcdBinary)
    func eachHostIsAskedOnItsOwn() async throws {
        let handles = try TestHandles(.etcd)
        try await TestHandles.closing(handles) {
            let other = EtcdCluster(size: 1, folderPrefix: "coord-config-check-")
            defer { other.stopAll() }
            try await other.start(other.members[0])
            try await other.waitUntilServing()
            let shared = TestEnvironment.etcdEndpoints[0]
            // Nothing listens on this port of the CLI tests' range.
            let down = "127.0.0.1:24998"
            let coord = try CoordProcess()
            defer { coord.removeDirectory() }

            let url = "etcd://\(shared),\(other.endpoints[0]),\(down)\(handles.namespace.path)"
            let mixed = try await coord.run(["--store", url, "config", "check"])
            #expect(mixed.status == 7, "\(mixed.stderr)")
            let rows = mixed.stdoutText.split(separator: "\n").filter { $0.hasPrefix("endpoint") }.map(String.init)
            try #require(rows.count == 3, "\(mixed.stdoutText)")
            #expect(rows[0].contains("http://\(shared)  member ") && rows[0].contains(", etcd 3."), "\(rows[0])")
            #expect(rows[1].hasSuffix("http://\(other.endpoints[0])  refused: a member of another cluster than the first one reached"), "\(rows[1])")
            #expect(rows[2].contains("http://\(down)  not serving: ") && rows[2].contains("connection refused"), "\(rows[2])")
            #expect(!mixed.stdoutText.contains("connection   ok"), "\(mixed.stdoutText)")
            #expect(mixed.stderrLines.count == 1)
            #expect(mixed.stderr.hasPrefix("coord: http://\(other.endpoints[0]) is a member of another etcd cluster"), "\(mixed.stderr)")

            let oneDown = try await coord.run(["--store", "etcd://\(shared),\(down)\(handles.namespace.path)", "config", "check"])
            #expect(oneDown.status == 0, "\(oneDown.stderr)")
            let lines = oneDown.stdoutText.split(separator: "\n").map(String.init)
            #expect(lines.filter { $0.hasPrefix("endpoint") }.count == 2, "\(oneDown.stdoutText)")
            #expect(lines.last?.hasPrefix("connection") == true && lines.last?.contains("ok: etcd") == true, "\(lines)")
        }
    }

    /// A ZooKeeper reply names no ensemble: each host is only said to answer as ZooKeeper, or not.
    @Test("on ZooKeeper each host gets a line too: one that answers, one that is down (no failure)")
    func eachZooKeeperHostIsAskedOnItsOwn() async throws {
        let handles = try TestHandles(.zookeeper)
        try await TestHandles.closing(handles) {
            let shared = TestEnvironment.zookeeperHosts[0]
            let down = "127.0.0.1:24998"  // nothing listens there (see above)
            let coord = try CoordProcess()
            defer { coord.removeDirectory() }
            let result = try await coord.run(["--store", "zookeeper://\(shared),\(down)\(handles.namespace.path)", "config", "check"])
            #expect(result.status == 0, "\(result.stderr)")
            let lines = result.stdoutText.split(separator: "\n").map(String.init)
            let rows = lines.filter { $0.hasPrefix("endpoint") }
            try #require(rows.count == 2, "\(result.stdoutText)")
            #expect(rows[0].hasSuffix("\(shared)  a ZooKeeper server answered"), "\(rows[0])")
            #expect(rows[1].hasSuffix("\(down)  not serving: connection refused"), "\(rows[1])")
            #expect(lines.last?.hasPrefix("connection") == true && lines.last?.contains("ok: zookeeper") == true, "\(lines)")
        }
    }
}
