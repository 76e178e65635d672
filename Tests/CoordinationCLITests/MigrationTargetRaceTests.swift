import Coordination
import CoordinationTestSupport
import Logging
import Synchronization
import Testing
@testable import CoordinationMigration

/// A target that someone else writes to between the migration's plan (its read of the target)
/// and its write: the transaction that meets the change falls back to one key at a time, and
/// the run finishes with the source's values.
@Suite("StoreMigration: a target written meanwhile", .serverLoadLimit)
struct MigrationTargetRaceTests {
    static func key(_ path: String) -> Key { try! Key(path) }

    /// Creates `raced` (with other bytes) just before the first transaction that creates it.
    final class CreatedMeanwhile: ForwardingStore {
        let base: any CoordinationStore
        let raced: Key
        /// Whether `raced` was created.
        let done = Mutex(false)
        init(base: any CoordinationStore, raced: Key) {
            self.base = base
            self.raced = raced
        }
        func transaction(_ operations: [Operation]) async throws -> [OperationResult] {
            let creates = operations.contains {
                if case .create(let key, _, _) = $0 { key == raced } else { false }
            }
            if creates, done.withLock({ let first = !$0; $0 = true; return first }) {
                _ = try await base.create(raced, value: Array("someone else's".utf8), mode: .persistent)
            }
            return try await base.transaction(operations)
        }
    }

    @Test("a key created on the target after the plan, before its transaction: the run falls back, overwrites it, and verify is clean", arguments: TestBackend.all)
    func keyCreatedMeanwhile(_ backend: TestBackend) async throws {
        let from = try TestHandles(backend, test: "createdMeanwhile-\(backend.name)-from")
        let to = try TestHandles(backend, test: "createdMeanwhile-\(backend.name)-to")
        try await TestHandles.closing(from, to) {
            let source = try await from.open()
            for name in ["a", "b", "c"] { _ = try await source.create(Self.key("/r/" + name), value: Array(name.utf8)) }
            let raced = Self.key("/r/b")
            let target = CreatedMeanwhile(base: try await to.open(), raced: raced)
            let migration = StoreMigration(source: source, target: target, options: MigrationOptions(), logger: Logger(label: "test.migration"))

            let report = try await migration.run()
            #expect(target.done.withLock { $0 }, "the key was created meanwhile")
            #expect(report.counts.sourceKeys == 4 && report.counts.copied == 4, "/r, /r/a, /r/b, /r/c")
            #expect(report.counts.overwrittenKeys == [raced])
            #expect(try await target.get(raced)?.value == Array("b".utf8))
            #expect(try await migration.verify().isClean)
        }
    }
}
