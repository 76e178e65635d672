import Coordination
import CoordinationTestSupport
import Logging
import Testing
@testable import CoordinationMigration

/// A mirroring run (the catch-up after `--follow`) deletes what only the target has: its report,
/// which the lag line and the summary print, names each key deleted, deepest first, and only
/// keys that are gone.
@Suite("StoreMigration mirror: the keys it deletes", .serverLoadLimit)
struct MigrationMirrorDeleteTests {
    static func key(_ path: String) -> Key { try! Key(path) }

    @Test(
        "a chain of keys only on the target is deleted and reported key by key, deepest first; an ancestor a live session's key keeps is not reported",
        arguments: TestBackend.all)
    func deletedKeysDeepestFirst(_ backend: TestBackend) async throws {
        let from = try TestHandles(backend, test: "mirrorDeletes-\(backend.name)-from")
        let to = try TestHandles(backend, test: "mirrorDeletes-\(backend.name)-to")
        try await TestHandles.closing(from, to) {
            let source = try await from.open()
            let target = try await to.open()
            _ = try await source.create(Self.key("/m/kept"), value: [1])
            _ = try await target.create(Self.key("/m/x/y/z"), value: [2])
            _ = try await target.create(Self.key("/m/held/extra"), value: [3])
            _ = try await target.create(Self.key("/m/held/live"), value: [], mode: .ephemeral)
            let migration = StoreMigration(
                source: source, target: target, options: MigrationOptions(prefix: Self.key("/m")), logger: Logger(label: "test.migration"))

            let report = try await migration.run(mirror: true)
            let deleted = [Self.key("/m/x/y/z"), Self.key("/m/x/y"), Self.key("/m/x"), Self.key("/m/held/extra")]
            #expect(Set(report.deletedKeys) == Set(deleted), "\(report.deletedKeys)")
            #expect(report.counts.deleted == 4)
            for (index, key) in report.deletedKeys.enumerated() {
                let later = report.deletedKeys[(index + 1)...]
                #expect(!later.contains { $0 != key && $0.isUnder(key) }, "\(key) before a key beneath it: \(report.deletedKeys)")
            }
            for key in deleted { #expect(try await target.get(key) == nil, "\(key)") }
            #expect(try await target.get(Self.key("/m/held")) != nil, "kept by the live session's key beneath it")
            let verified = try await migration.verify(mirror: true)
            #expect(verified.differences == [.extraOnTarget(Self.key("/m/held"))], "only the key the live session keeps")
        }
    }
}
