import Coordination
import CoordinationTestSupport
import Foundation
import Testing

/// `coord migrate --follow` when a source value grows past what the target can hold (another
/// etcd tool can write up to etcd's request limit, 1.5 MiB; keys hold at most 1,000,000 bytes).
@Suite("coord migrate --follow: a source value grown past the target's limit", .serverLoadLimit)
struct MigrationFollowOversizeTests {
    /// The target kept its older value with no word until the stop: whoever watched stderr while
    /// following learnt nothing of a key no longer mirrored.
    @Test(
        "--follow says at once on stderr which key outgrew which limit and what to do; the run ends not faithful (status 1, the key listed and a difference)",
        .enabled("needs etcdctl") { TestEnvironment.isCI || FileManager.default.isExecutableFile(atPath: "/usr/bin/etcdctl") })
    func aValueGrownPastTheLimitIsSaidAtOnce() async throws {
        let etcd = try TestHandles(.etcd)
        let zk = try TestHandles(.zookeeper)
        try await TestHandles.closing(etcd, zk) {
            let source = try await etcd.open()
            _ = try await source.create(try Key("/grow"), value: [1])
            _ = try await source.create(try Key("/ok"), value: [2])
            let coord = try CoordProcess()
            defer { coord.removeDirectory() }
            let from = try #require(etcd.backend.url(etcd.namespace)), to = try #require(zk.backend.url(zk.namespace))
            let migrate = try await SchedulerProcessTests.Background(
                coord, ["migrate", "--from", from, "--to", to, "--follow"], name: "migrate", keepStdout: true)
            defer { if migrate.process.isRunning { kill(migrate.process.processIdentifier, SIGKILL) } }
            try await migrate.waitFor("following changes under")

            try await MigrateCommandTests.etcdctlPut(etcd.namespace.path + "/grow", Array(repeating: UInt8(ascii: "x"), count: 1_200_000))
            let note =
                "coord: note: not mirrored: value for /grow is 1200000 bytes; the limit is 1000000 bytes; the target keeps what it had at /grow, "
                + "so it is no faithful copy until the key fits again or is deleted on the source: change or remove it there"
            try await migrate.waitFor(note, inStderr: true)
            #expect(migrate.process.isRunning, "still following: \(migrate.stderr)")
            // Later writes of the key, still too large, say nothing more.
            try await MigrateCommandTests.etcdctlPut(etcd.namespace.path + "/grow", Array(repeating: UInt8(ascii: "y"), count: 1_200_000))
            _ = try await source.set(try Key("/ok"), value: [3])
            let target = try await zk.open()
            try await withDeadline("/ok mirrored", limit: .seconds(20)) {
                for try await event in target.watch(try Key("/ok")) {
                    if case .snapshot(let records) = event, records.first?.value == [3] { return }
                    if case .put(let record) = event, record.value == [3] { return }
                }
            }
            #expect(migrate.stderr.components(separatedBy: "coord: note: not mirrored:").count == 2, "once: \(migrate.stderr)")
            #expect(try await target.get(try Key("/grow"))?.value == [1], "the older value stays")

            kill(migrate.process.processIdentifier, SIGINT)
            let ended = await MigrateCommandTests.exit(of: migrate.process)
            #expect(ended.reason == .exit && ended.status == 1, "\(ended), \(migrate.stdout), \(migrate.stderr)")
            #expect(migrate.stdout.contains("\n  /grow: value for /grow is 1200000 bytes; the limit is 1000000 bytes"), "\(migrate.stdout)")
            #expect(migrate.stdout.contains("different value: /grow (source 1200000 bytes, target 1 bytes)"), "\(migrate.stdout)")
            let last = migrate.stderr.split(separator: "\n").last.map(String.init) ?? ""
            #expect(last.hasPrefix("coord: verification found 1 difference"), "\(migrate.stderr)")
            #expect(last.contains("1 key on the source were not copied: the target cannot hold them"), "\(last)")
        }
    }
}
