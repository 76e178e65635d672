import Coordination
import CoordinationLocalServers
import CoordinationTestSupport
import Foundation
import Synchronization
import Testing
@testable import CoordinationCLI
@testable import CoordinationMigration

/// An etcd source holding keys whose parent another tool (etcdctl) deleted alone: the target
/// needs that parent for them, so mirroring the parent's absence must not take them with it.
@Suite("StoreMigration: etcd source keys whose parent another tool deleted", .serverLoadLimit)
struct ParentlessSourceKeyTests {
    static func key(_ path: String) -> Key { try! Key(path) }

    /// Deletes the one etcd key for `key` under `namespace`, not what lies beneath, as `etcdctl del` does.
    static func deleteAlone(_ key: Key, in namespace: Key) async throws {
        let rootURL = try #require(TestBackend.etcd.url(.root))
        let endpoint = try #require(try StoreURL(rootURL).hosts.first)
        let port = try #require(Int(endpoint.split(separator: ":").last ?? ""))
        let raw = Data(namespace.appending(key).path.utf8).base64EncodedString()
        _ = try #require(await LoopbackHTTP.postJSON(port: port, path: "/v3/kv/deleterange", body: #"{"key":"\#(raw)"}"#))
    }

    /// A migration from an etcd source holding `/a/b` without `/a` (deleted alone) to a memory
    /// target holding `targetOnly`, which the source lacks.
    static func withParentlessSource(
        test: String, targetOnly: String, _ body: (StoreMigration, any CoordinationStore) async throws -> Void
    ) async throws {
        let from = try TestHandles(.etcd)
        let to = try TestHandles(.memory, test: "\(test)-to")
        try await TestHandles.closing(from, to) {
            let source = try await from.open()
            _ = try await source.create(key("/a/b"), value: [1])
            try await deleteAlone(key("/a"), in: from.namespace)
            #expect(try await source.get(key("/a")) == nil)
            let target = try await to.open()
            _ = try await target.create(key(targetOnly), value: [3])
            try await body(StoreMigration(source: source, target: target, options: MigrationOptions(), logger: StoreMigrationTests.logger), target)
        }
    }

    /// The catch-up after --follow used to delete the parent recursively, and the source's keys beneath it.
    @Test("the catch-up mirror keeps such keys and their parent on the target, deletes only what the target alone has, and verify finds no difference")
    func mirrorKeepsTheParent() async throws {
        try await Self.withParentlessSource(test: "mirrorKeepsTheParent", targetOnly: "/gone") { migration, target in
            _ = try await migration.run()  // the copy (--follow's first snapshot) writes /a/b, and /a for it
            let report = try await migration.run(mirror: true)
            #expect(report.deletedKeys == [Self.key("/gone")])
            #expect(try await target.get(Self.key("/a/b"))?.value == [1])
            let verification = try await migration.verify(mirror: true)
            #expect(verification.isClean, "\(verification.differences)")
            #expect(verification.parentsOnlyOnTargetKeys == [Self.key("/a")] && verification.onlyOnTarget == 0, "a note, as after a copy")
        }
    }

    /// A copy's verify counted the parent the target needs as a key only on the target, and
    /// `coord migrate --verify` said that --follow would delete it, which --follow does not do.
    @Test("a copy's verify names the parent the source lacks apart from the keys only on the target")
    func copyNamesTheParentApart() async throws {
        try await Self.withParentlessSource(test: "copyNamesTheParentApart", targetOnly: "/other") { migration, _ in
            _ = try await migration.run()
            let verification = try await migration.verify()
            #expect(verification.isClean, "\(verification.differences)")
            #expect(verification.parentsOnlyOnTargetKeys == [Self.key("/a")] && verification.parentsOnlyOnTarget == 1)
            #expect(verification.onlyOnTargetKeys == [Self.key("/other")] && verification.onlyOnTarget == 1)

            let lines = MigrateCommand.verifyLines(verification, mirror: false, limit: 20)
            #expect(lines.first?.hasSuffix(": identical for every source key; 1 key only on the target; 1 parent the source lacks on the target") == true, "\(lines)")
            #expect(lines.contains("note: 1 key only on the target, left alone (--follow would delete them): /other"), "\(lines)")
            #expect(
                lines.contains(
                    "note: 1 parent of source keys only on the target, which needs them: the source holds keys without their parents "
                        + "(another etcd client wrote them so), and --follow keeps them: /a"), "\(lines)")
        }
    }

    /// Following used to delete the target's whole subtree on such a delete event.
    @Test("following, a delete of the parent alone leaves the source's keys beneath it on the target")
    func followKeepsTheChildren() async throws {
        let from = try TestHandles(.etcd)
        let to = try TestHandles(.memory, test: "followKeepsTheChildren-to")
        try await TestHandles.closing(from, to) {
            let source = try await from.open()
            _ = try await source.create(Self.key("/p/x"), value: [1])
            _ = try await source.create(Self.key("/p/y"), value: [2])
            let target = try await to.open()
            let migration = StoreMigration(source: source, target: target, options: MigrationOptions(), logger: StoreMigrationTests.logger)
            let (reports, continuation) = AsyncStream<MigrationProgress>.makeStream()
            let following = Task { try await migration.follow { continuation.yield($0) } }
            defer { following.cancel() }
            try await withDeadline("the delete event applied", limit: .seconds(20)) {
                for await progress in reports where progress.phase == .following {
                    if progress.phaseEnded && progress.read == 0 { try await Self.deleteAlone(Self.key("/p"), in: from.namespace) }
                    if progress.read >= 1 { return }  // the delete event is applied
                }
            }
            following.cancel()
            let report = try await following.value
            #expect(report.events == 1)
            #expect(try await target.get(Self.key("/p/x"))?.value == [1])
            #expect(try await target.get(Self.key("/p/y"))?.value == [2])
        }
    }
}
