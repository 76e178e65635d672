@testable import CoordinationChaos
import Foundation
import Testing

/// A failed run names a member's log ("did not become ready; see its log under …"), but the
/// teardown removes the cluster's folder with its data: the logs are copied beside the workers'
/// first. The etcd soak of 2026-12-06 failed so, and its member log was gone.
@Suite("The chaos run keeps its servers' logs")
struct ServerLogKeepingTests {
    @Test("each member's log is copied into the kept folder under its member's name")
    func copiesEachMembersLog() async throws {
        let members = EtcdMembers(basePort: 24_500)
        let kept = URL(fileURLWithPath: NSTemporaryDirectory()).appendingPathComponent("coord-chaos-keep-\(UInt32.random(in: 0...UInt32.max))")
        try FileManager.default.createDirectory(at: kept, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: kept) }
        let logs = members.serverLogs
        #expect(logs.map(\.name) == ["m0", "m1", "m2"])
        for (name, path) in logs.dropLast() {
            try FileManager.default.createDirectory(
                atPath: (path as NSString).deletingLastPathComponent, withIntermediateDirectories: true)
            try Data("log of \(name)\n".utf8).write(to: URL(fileURLWithPath: path))
        }
        members.keepServerLogs(in: kept)
        await members.destroy()
        let names = try FileManager.default.contentsOfDirectory(atPath: kept.path).sorted()
        #expect(names == ["server-m0.log", "server-m1.log"], "a member with no log yet is skipped")
        #expect(try String(contentsOf: kept.appendingPathComponent("server-m1.log"), encoding: .utf8) == "log of m1\n")
    }
}
