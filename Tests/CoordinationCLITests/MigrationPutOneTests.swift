import Coordination
import CoordinationTestSupport
import Logging
import Synchronization
import Testing
@testable import CoordinationMigration

/// ``StoreMigration/putOne(_:)``, the one-key write a failed batch falls back to: against a
/// target that someone else writes between its read and its write it looks again and ends with
/// the source's value; a key the target refuses for good is set aside, never counted as copied.
@Suite("StoreMigration.putOne: a target written meanwhile, or refusing a key", .serverLoadLimit)
struct MigrationPutOneTests {
    static let logger = Logger(label: "test.migration")
    static let raced = try! Key("/r/k")

    /// Before the first `create` or `set` of ``raced`` reaches the store, someone else writes it
    /// there (creates it, or sets it to other bytes), so that write meets `nodeExists` or
    /// `versionConflict`.
    final class WrittenMeanwhile: ForwardingStore {
        let base: any CoordinationStore
        let interfered = Mutex(false)
        init(base: any CoordinationStore) { self.base = base }

        private func interfere() async throws {
            guard interfered.withLock({ let first = !$0; $0 = true; return first }) else { return }
            if try await base.get(MigrationPutOneTests.raced) == nil {
                _ = try await base.create(MigrationPutOneTests.raced, value: Array("someone else's".utf8), mode: .persistent)
            } else {
                _ = try await base.set(MigrationPutOneTests.raced, value: Array("a third writer's".utf8), ifVersion: nil)
            }
        }
        func create(_ key: Key, value: [UInt8], mode: CreateMode) async throws -> Record {
            if key == MigrationPutOneTests.raced { try await interfere() }
            return try await base.create(key, value: value, mode: mode)
        }
        func set(_ key: Key, value: [UInt8], ifVersion: Int64?) async throws -> Record {
            if key == MigrationPutOneTests.raced { try await interfere() }
            return try await base.set(key, value: value, ifVersion: ifVersion)
        }
    }

    static let record = Record(key: raced, value: Array("source".utf8), version: 0, createRevision: 1, modRevision: 1, isEphemeral: false)

    static func putOne(on target: any CoordinationStore) async throws -> StoreMigration.PutOutcome {
        // The source is never read by putOne.
        try await StoreMigration(source: target, target: target, options: MigrationOptions(), logger: logger).putOne(record)
    }

    @Test("a key created by someone else between putOne's read and its create is compared and overwritten, not taken for identical", arguments: TestBackend.all)
    func createdMeanwhile(_ backend: TestBackend) async throws {
        let handles = try TestHandles(backend, test: "putOneCreatedMeanwhile-\(backend.name)")
        try await TestHandles.closing(handles) {
            let target = WrittenMeanwhile(base: try await handles.open())
            _ = try await target.base.create(try Key("/r"), value: [], mode: .persistent)

            #expect(try await Self.putOne(on: target) == .overwritten)
            #expect(target.interfered.withLock { $0 }, "the key was created meanwhile")
            #expect(try await target.base.get(Self.raced)?.value == Array("source".utf8))
        }
    }

    @Test("a key set by someone else between putOne's read and its set (a version conflict) is read again and overwritten", arguments: TestBackend.all)
    func setMeanwhile(_ backend: TestBackend) async throws {
        let handles = try TestHandles(backend, test: "putOneSetMeanwhile-\(backend.name)")
        try await TestHandles.closing(handles) {
            let target = WrittenMeanwhile(base: try await handles.open())
            _ = try await target.base.create(Self.raced, value: Array("old".utf8), mode: .persistent)

            #expect(try await Self.putOne(on: target) == .overwritten)
            #expect(target.interfered.withLock { $0 }, "the key was set meanwhile")
            #expect(try await target.base.get(Self.raced)?.value == Array("source".utf8))
        }
    }

    /// A target with a lower value limit than the portable one (an etcd started with a smaller
    /// request limit): it refuses ``refusedKey`` in a transaction and on its own.
    struct RefusingOneKey: ForwardingStore {
        let base: any CoordinationStore
        static let refusedKey = try! Key("/r/big")
        static var tooLarge: CoordinationError { CoordinationError(.valueTooLarge, "value too large for this target", key: refusedKey) }
        func transaction(_ operations: [Operation]) async throws -> [OperationResult] {
            let index = operations.firstIndex {
                switch $0 {
                case .create(let key, _, _), .set(let key, _, _): key == Self.refusedKey
                default: false
                }
            }
            if let index { throw Self.tooLarge.inTransaction(operation: index, of: operations.count) }
            return try await base.transaction(operations)
        }
        func create(_ key: Key, value: [UInt8], mode: CreateMode) async throws -> Record {
            if key == Self.refusedKey { throw Self.tooLarge }
            return try await base.create(key, value: value, mode: mode)
        }
        func set(_ key: Key, value: [UInt8], ifVersion: Int64?) async throws -> Record {
            if key == Self.refusedKey { throw Self.tooLarge }
            return try await base.set(key, value: value, ifVersion: ifVersion)
        }
    }

    @Test("a key the target refuses for good, met when its batch falls back, is listed as not copied, never counted as copied", arguments: TestBackend.all)
    func refusedByTarget(_ backend: TestBackend) async throws {
        let from = try TestHandles(backend, test: "putOneRefused-\(backend.name)-from")
        let to = try TestHandles(backend, test: "putOneRefused-\(backend.name)-to")
        try await TestHandles.closing(from, to) {
            let source = try await from.open()
            _ = try await source.create(try Key("/r/small"), value: [1])
            _ = try await source.create(RefusingOneKey.refusedKey, value: [2])
            let target = RefusingOneKey(base: try await to.open())
            let report = try await StoreMigration(source: source, target: target, options: MigrationOptions(), logger: Self.logger).run()

            #expect(report.counts.copied == 2, "/r and /r/small: \(report.counts)")
            #expect(report.counts.skipped == 1)
            #expect(report.counts.skippedKeys.map(\.path) == ["/r/big"])
            #expect(report.counts.skippedKeys.first?.code == .valueTooLarge)
            #expect(try await target.base.get(RefusingOneKey.refusedKey) == nil)
        }
    }
}
