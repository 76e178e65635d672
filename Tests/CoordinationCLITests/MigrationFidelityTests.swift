import Coordination
import CoordinationTestSupport
import Logging
import Synchronization
import Testing
@testable import CoordinationCLI
@testable import CoordinationMigration

/// Data-loss hazards of ``StoreMigration`` that the broader tests pass over: on every backend,
/// each side under a fresh namespace.
@Suite("StoreMigration fidelity: late value bytes, the follow's first snapshot, progress totals", .serverLoadLimit)
struct MigrationFidelityTests {
    static let logger = Logger(label: "test.migration.fidelity")

    static func key(_ path: String) -> Key { try! Key(path) }

    static func migration(_ source: any CoordinationStore, _ target: any CoordinationStore, prefix: Key = .root) -> StoreMigration {
        var options = MigrationOptions(prefix: prefix)
        options.concurrency = 4
        return StoreMigration(source: source, target: target, options: options, logger: logger)
    }

    /// Opens a source and a target on `backend`, each under a namespace of its own.
    static func withStores(
        _ backend: TestBackend, test: String = #function,
        _ body: (any CoordinationStore, any CoordinationStore) async throws -> Void
    ) async throws {
        let from = try TestHandles(backend, test: "\(test.prefix { $0 != "(" })-\(backend.name)-from")
        let to = try TestHandles(backend, test: "\(test.prefix { $0 != "(" })-\(backend.name)-to")
        try await TestHandles.closing(from, to) {
            try await body(try await from.open(), try await to.open())
        }
    }

    /// A value on the target that differs from the source's only in its last byte is neither
    /// taken for identical by the copy (it would stay, silently different) nor by the verify.
    @Test("a value differing only in its last byte is a difference to verify and is overwritten by the copy", arguments: TestBackend.all)
    func lateByteDifference(_ backend: TestBackend) async throws {
        try await Self.withStores(backend) { source, target in
            var value = (0..<4000).map { UInt8(truncatingIfNeeded: $0 &* 7) }
            _ = try await source.create(Self.key("/v/late"), value: value)
            _ = try await source.create(Self.key("/v/same"), value: value)
            _ = try await target.create(Self.key("/v/same"), value: value)
            value[value.count - 1] ^= 0xFF
            _ = try await target.create(Self.key("/v/late"), value: value)
            let migration = Self.migration(source, target)

            let before = try await migration.verify()
            #expect(before.differences == [.differentValue(Self.key("/v/late"), sourceBytes: 4000, targetBytes: 4000)])
            #expect(before.sourceDigest != before.targetDigest)

            let report = try await migration.run()
            #expect(report.counts.overwrittenKeys == [Self.key("/v/late")])
            #expect(report.counts.identical == 2, "/v and /v/same")
            #expect(try await target.get(Self.key("/v/late"))?.value == source.get(Self.key("/v/late"))?.value)
            #expect(try await migration.verify().isClean)
        }
    }

    /// A source whose watch is asked for after one more key was written: what a write between a
    /// copy and the start of a watch looks like.
    struct WriteBeforeWatch: ForwardingStore {
        let base: any CoordinationStore
        let late: Key
        func watch(_ key: Key, scope: WatchScope) -> AsyncThrowingStream<WatchEvent, any Error> {
            baseWatch(key, scope: scope) { [base, late] in
                _ = try await base.create(late, value: [0xC0, 0xFF, 0xEE], mode: .persistent)
            }
        }
    }

    /// The follow's first copy is its watch's own snapshot: a copy made before the watch starts
    /// would miss what was written in between, with nothing to tell of it later.
    @Test("follow mirrors a key written just before its watch started", arguments: TestBackend.all)
    func followFirstSnapshot(_ backend: TestBackend) async throws {
        try await Self.withStores(backend) { base, target in
            _ = try await base.create(Self.key("/g/early"), value: [1])
            let late = Self.key("/g/late")
            let source = WriteBeforeWatch(base: base, late: late)
            let migration = Self.migration(source, target, prefix: Self.key("/g"))
            let (reports, continuation) = AsyncStream.makeStream(of: MigrationProgress.self)
            let task = Task { try await migration.follow { continuation.yield($0) } }
            defer { task.cancel() }
            try await FollowProgressWaits.firstCopyEnded(reports)

            #expect(try await target.get(Self.key("/g/early"))?.value == [1])
            #expect(try await target.get(late)?.value == [0xC0, 0xFF, 0xEE], "written before the watch: in its snapshot")
            task.cancel()
            let report = try await task.value
            #expect(report.mirrored.contains(late))
        }
    }

    /// The writing phase's reports say how many of the source's persistent keys are done out of
    /// how many: its last says all of them, ephemeral keys (never written) in neither number.
    @Test("the writing phase ends with every persistent source key done, out of the persistent keys only", arguments: TestBackend.all)
    func writingProgressTotals(_ backend: TestBackend) async throws {
        try await Self.withStores(backend) { source, target in
            for path in ["/p/a", "/p/a/b", "/p/c", "/p/d/e"] { _ = try await source.create(Self.key(path), value: [7]) }
            _ = try await target.create(Self.key("/p/c"), value: [7])
            _ = try await source.create(Self.key("/p/live"), value: [], mode: .ephemeral)
            _ = try await source.create(Self.key("/p/a/live"), value: [], mode: .ephemeral)
            let writing = Mutex<[MigrationProgress]>([])
            let report = try await Self.migration(source, target, prefix: Self.key("/p")).run { progress in
                if progress.phase == .writing { writing.withLock { $0.append(progress) } }
            }
            #expect(report.counts.sourceKeys == 6, "/p, /p/a, /p/a/b, /p/c, /p/d, /p/d/e")
            #expect(report.counts.copied == 4 && report.counts.identical == 2 && report.counts.ephemeral == 2)
            let last = try #require(writing.withLock { $0.last })
            #expect(last.phaseEnded)
            #expect(last.counts.done == 6 && last.total == 6, "done \(last.counts.done) of \(last.total)")
            #expect(MigrationProgressPrinter.text(last).hasPrefix("writing: 6/6 keys, 4 copied, 2 identical, 2 ephemeral skipped"))
        }
    }

    /// Every persistent key and its value under `prefix`, read by the store's own walk: not by
    /// the reader the migration under test uses.
    static func walked(_ store: any CoordinationStore, under prefix: Key) async throws -> [Key: [UInt8]] {
        var result: [Key: [UInt8]] = [:]
        for record in try await store.records(under: prefix) where !record.isEphemeral { result[record.key] = record.value }
        return result
    }

    /// The level-by-level read serves both the copy and the verify, so a key it misses would be
    /// missed by both alike: the target is compared here with the stores' own walks.
    @Test("keys beneath keys that hold values are copied by a migration reading level by level", arguments: TestBackend.all)
    func childrenOfValuedKeys(_ backend: TestBackend) async throws {
        try await Self.withStores(backend) { source, target in
            for (path, value) in [("/t", "root"), ("/t/a", "a"), ("/t/a/b", "b"), ("/t/a/b/c", "c"), ("/t/e/f", "f")] {
                _ = try await source.put(Self.key(path), value: Array(value.utf8))
            }
            var options = MigrationOptions(prefix: Self.key("/t"))
            options.sourceReads = .parallel(width: 4)
            options.targetReads = .parallel(width: 4)
            let migration = StoreMigration(source: source, target: target, options: options, logger: Self.logger)
            let report = try await migration.run()
            #expect(report.counts.sourceKeys == 6 && report.counts.copied == 6, "/t, /t/a, /t/a/b, /t/a/b/c, /t/e, /t/e/f")
            let expected = try await Self.walked(source, under: Self.key("/t"))
            #expect(expected.count == 6)
            #expect(try await Self.walked(target, under: Self.key("/t")) == expected)
            let verified = try await migration.verify()
            #expect(verified.isClean && verified.sourceKeys == 6 && verified.targetKeys == 6)
        }
    }
}
