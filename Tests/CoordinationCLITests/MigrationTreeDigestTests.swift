import Coordination
import CoordinationTestSupport
import Logging
import Testing
@testable import CoordinationMigration

/// The tree digests a verify prints for each side (and the README shows) are compared by people,
/// across runs and tools: they must tell apart two subtrees that differ only in where a value is.
@Suite("StoreMigration verify: tree digests")
struct MigrationTreeDigestTests {
    static func key(_ path: String) -> Key { try! Key(path) }

    @Test("the same value under another key, or one key more holding nothing, gives another tree digest")
    func digestCoversKeys() {
        let value = ContentDigest.of(Array("same bytes".utf8))
        let empty = ContentDigest.of([])
        let original = StoreMigration.treeDigest([Self.key("/app/a"): value])
        #expect(StoreMigration.treeDigest([Self.key("/app/b"): value]) != original, "renamed")
        #expect(StoreMigration.treeDigest([Self.key("/app/a"): value, Self.key("/app/z"): empty]) != original, "one key more")
        #expect(StoreMigration.treeDigest([Self.key("/app/a"): value]) == original, "the same tree, the same digest")
    }

    @Test("verify on two stores whose only key differs in its path: not clean, and the digests differ", arguments: TestBackend.all)
    func verifyDigestsDiffer(_ backend: TestBackend) async throws {
        let from = try TestHandles(backend, test: "treeDigest-\(backend.name)-from")
        let to = try TestHandles(backend, test: "treeDigest-\(backend.name)-to")
        try await TestHandles.closing(from, to) {
            let source = try await from.open()
            let target = try await to.open()
            _ = try await source.create(Self.key("/d/a"), value: [1, 2, 3])
            _ = try await target.create(Self.key("/d/b"), value: [1, 2, 3])
            let report = try await StoreMigration(
                source: source, target: target, options: MigrationOptions(prefix: Self.key("/d")), logger: Logger(label: "test.migration")
            ).verify()
            #expect(!report.isClean)
            #expect(report.sourceKeys == 2 && report.targetKeys == 2)
            #expect(report.sourceDigest != report.targetDigest, "\(report.sourceDigest) on both sides")
        }
    }
}
