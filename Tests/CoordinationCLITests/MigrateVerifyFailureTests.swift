import Coordination
import CoordinationLocalServers
import CoordinationTestSupport
import Foundation
import Testing

extension MigrateCommandTests {
    /// It used to read as the copy's own failure, with nothing to say that the copy was done.
    @Test("the target lost while --verify compares after the copy: status 9, one line saying the copy finished, which side failed, and how to compare again")
    func targetLostWhileVerifying() async throws {
        let zk = try TestHandles(.zookeeper)
        let etcd = try TestHandles(.etcd)
        try await TestHandles.closing(zk, etcd) {
            try await Self.fillFlat(try await zk.open(), count: 1500)
            let relay = try TCPRelay(upstreams: [TestEnvironment.etcdEndpoints[0]], isFinished: { false })
            defer { relay.stop() }
            let coord = try CoordProcess()
            defer { coord.removeDirectory() }
            let from = try #require(zk.backend.url(zk.namespace))
            let to = "etcd://\(relay.address)\(etcd.namespace.path)"
            // One source read at a time: the verify reads the source for a second or so before the target.
            let migrate = try await SchedulerProcessTests.Background(
                coord, ["migrate", "--from", from, "--to", to, "--verify", "--read-width", "1"], name: "migrate", keepStdout: true)
            try await migrate.waitFor("sequence counters: ")
            relay.cut()
            let ended = await Self.exit(of: migrate.process)
            #expect(ended.reason == .exit && ended.status == 9, "\(ended), \(migrate.stderr)")
            let line = migrate.stderr.split(separator: "\n").last.map(String.init) ?? ""
            #expect(line.hasPrefix("coord: the copy finished (1501 keys copied), but verifying it failed: reading the target failed: "), "\(line)")
            #expect(line.contains("; run with --verify --dry-run to compare again"), "\(line)")
            #expect(!migrate.stdout.contains("verify:"), "no verdict: \(migrate.stdout)")
        }
    }
}
