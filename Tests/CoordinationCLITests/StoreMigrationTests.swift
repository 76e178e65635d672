import Coordination
import CoordinationMemory
import CoordinationTestSupport
import Foundation
import Logging
import Synchronization
import Testing
@testable import CoordinationCLI
@testable import CoordinationMigration

/// ``StoreMigration`` between two namespaces of the embedded store: the logic, without servers.
@Suite("StoreMigration on memory")
struct StoreMigrationTests {
    static let logger = Logger(label: "test.migration")

    /// Two handles on fresh namespaces; `body` gets (source, target); both are cleaned up.
    static func withStores(
        _ body: (any CoordinationStore, any CoordinationStore) async throws -> Void, test: String = #function
    ) async throws {
        let from = try TestHandles(.memory, test: test + "-from")
        let to = try TestHandles(.memory, test: test + "-to")
        do {
            try await body(try await from.open(), try await to.open())
        } catch {
            await from.closeAll()
            await to.closeAll()
            throw error
        }
        await from.closeAll()
        await to.closeAll()
    }

    static func key(_ path: String) -> Key { try! Key(path) }

    /// Every persistent key and its value under `prefix`.
    static func contents(_ store: any CoordinationStore, under prefix: Key = .root) async throws -> [Key: [UInt8]] {
        var result: [Key: [UInt8]] = [:]
        for record in try await store.records(under: prefix) where !record.isEphemeral { result[record.key] = record.value }
        return result
    }

    static func migration(
        _ source: any CoordinationStore, _ target: any CoordinationStore, prefix: Key = .root, dryRun: Bool = false,
        reads: MigrationOptions.ReadMode = .walk
    ) -> StoreMigration {
        var options = MigrationOptions(prefix: prefix, dryRun: dryRun)
        options.sourceReads = reads
        options.targetReads = reads
        return StoreMigration(source: source, target: target, options: options, logger: logger)
    }

    @Test("copies persistent keys byte for byte, skips ephemeral ones, and a second run only finds identical keys")
    func copiesAndIsIdempotent() async throws {
        try await Self.withStores { source, target in
            _ = try await source.create(Self.key("/a"), value: [0, 1, 2, 255])
            _ = try await source.create(Self.key("/a/b/c"), value: Array("deep".utf8))
            _ = try await source.create(Self.key("/empty"), value: [])
            _ = try await source.create(Self.key("/a/live"), value: [9], mode: .ephemeral)
            let expected = try await Self.contents(source)

            let first = try await Self.migration(source, target).run()
            #expect(first.counts.copied == 4)  // /a, /a/b, /a/b/c, /empty
            #expect(first.counts.ephemeral == 1)
            #expect(first.counts.identical == 0)
            #expect(try await Self.contents(target) == expected)
            #expect(try await target.get(Self.key("/a/live")) == nil)

            let second = try await Self.migration(source, target).run()
            #expect(second.counts.copied == 0)
            #expect(second.counts.identical == 4)
            #expect(try await Self.contents(target) == expected)
            #expect(try await Self.migration(source, target).verify().isClean)
        }
    }

    @Test("a dry run counts what it would copy and writes nothing")
    func dryRun() async throws {
        try await Self.withStores { source, target in
            _ = try await source.create(Self.key("/x/y"), value: [1])
            _ = try await target.create(Self.key("/x"), value: [])  // identical already
            let report = try await Self.migration(source, target, dryRun: true).run()
            #expect(report.dryRun)
            #expect(report.counts.copied == 1)
            #expect(report.counts.identical == 1)
            #expect(try await target.get(Self.key("/x/y")) == nil)
        }
    }

    @Test("only the prefix's subtree is copied, to the same path")
    func prefix() async throws {
        try await Self.withStores { source, target in
            _ = try await source.create(Self.key("/app/config/color"), value: Array("blue".utf8))
            _ = try await source.create(Self.key("/app/other"), value: [1])
            _ = try await source.create(Self.key("/app2"), value: [2])
            let report = try await Self.migration(source, target, prefix: Self.key("/app/config")).run()
            #expect(report.counts.copied == 2)
            #expect(try await target.get(Self.key("/app/config/color"))?.value == Array("blue".utf8))
            #expect(try await target.get(Self.key("/app/other")) == nil)
            #expect(try await target.get(Self.key("/app2")) == nil)
        }
    }

    @Test("the level-by-level parallel read finds the same records as the store's walk")
    func parallelRead() async throws {
        try await Self.withStores { source, _ in
            for i in 0..<40 {
                _ = try await source.create(Self.key("/t/\(i % 3)/\(i % 5)/k\(i)"), value: [UInt8(i)])
            }
            _ = try await source.create(Self.key("/t/e"), value: [], mode: .ephemeral)
            let walked = try await source.records(under: .root).map(\.key)
            let parallel = try await ParallelTreeRead(store: source, width: 4).records(under: .root) { _ in }.map(\.key)
            #expect(Set(parallel) == Set(walked))
            #expect(parallel.count == walked.count)
            let sub = try await ParallelTreeRead(store: source, width: 2).records(under: Self.key("/t/1")) { _ in }
            #expect(Set(sub.map(\.key)) == Set(try await source.records(under: Self.key("/t/1")).map(\.key)))
        }
    }

    @Test("new sequential keys on the target sort after the copied ones, even across a gap of deleted numbers")
    func sequentialCounters() async throws {
        try await Self.withStores { source, target in
            let queue = Self.key("/q")
            var created: [Record] = []
            for _ in 0..<150 { created.append(try await source.create(Self.key("/q/job-"), value: [], mode: .sequential)) }
            for record in created.dropLast() where record.key.name != created[3].key.name {
                try await source.delete(record.key)
            }
            _ = try await source.create(Self.key("/small/n-"), value: [], mode: .sequential)
            let copied = try await source.children(of: queue)
            #expect(copied.count == 2)

            let report = try await Self.migration(source, target).run()
            #expect(report.counts.countersChecked == 2)
            #expect(report.counts.countersAdvanced >= 1)
            #expect(try await target.children(of: queue) == copied)  // no probe left behind

            let next = try await target.create(Self.key("/q/job-"), value: [], mode: .sequential)
            #expect(copied.allSatisfy { $0.utf8.lexicographicallyPrecedes(next.key.name.utf8) }, "\(next.key) after \(copied)")
            let other = try await target.create(Self.key("/small/n-"), value: [], mode: .sequential)
            #expect(other.key.name > "n-0000000000")

            // A second run moves nothing more and leaves no probe.
            let again = try await Self.migration(source, target).run()
            #expect(again.counts.countersAdvanced == 0)
            #expect(try await target.children(of: queue).count == 3)
        }
    }

    @Test("a run on a partly copied target (an interrupted run) finishes it without duplicates, and verify is clean")
    func resumes() async throws {
        try await Self.withStores { source, target in
            for i in 0..<300 {
                _ = try await source.create(Self.key("/d/\(i % 7)/k\(i)"), value: Array("v\(i)".utf8))
            }
            // What an interrupted run may leave: some keys copied, one overwritten since, ancestors made empty.
            for i in stride(from: 0, to: 300, by: 3) {
                _ = try await target.create(Self.key("/d/\(i % 7)/k\(i)"), value: Array("v\(i)".utf8))
            }
            _ = try await target.set(Self.key("/d/0/k0"), value: Array("stale".utf8))

            let report = try await Self.migration(source, target).run()
            #expect(report.counts.copied + report.counts.identical == report.counts.sourceKeys)
            #expect(report.counts.identical >= 99)
            #expect(try await Self.contents(target) == Self.contents(source))
            #expect(try await Self.migration(source, target).verify().isClean)
        }
    }

    @Test("a migration cancelled half way and run again completes, and verify is clean")
    func cancelledThenRerun() async throws {
        try await Self.withStores { source, target in
            for i in 0..<2000 {
                _ = try await source.create(Self.key("/c/\(i % 10)/k\(i)"), value: Array(repeating: UInt8(i % 251), count: 64))
            }
            let migration = Self.migration(source, target)
            // Interrupted from inside, at a known point: the run's task is cancelled once 500 keys are written.
            let task = Task {
                try await migration.run { progress in
                    if progress.phase == .writing && progress.counts.done >= 500 { withUnsafeCurrentTask { $0?.cancel() } }
                }
            }
            let interrupted = await task.result
            #expect(throws: CancellationError.self) { try interrupted.get() }
            let partial = try await Self.contents(target).count
            #expect(partial >= 500)
            #expect(partial < (try await Self.contents(source)).count, "the first run stopped part way")

            let report = try await migration.run()
            #expect(report.counts.identical >= 500)
            #expect(try await migration.verify().isClean)
        }
    }

    @Test("verify lists missing and different keys; keys only on the target are a note, a difference only for a mirror")
    func verifyFindsDifferences() async throws {
        try await Self.withStores { source, target in
            for name in ["a", "b", "c"] { _ = try await source.create(Self.key("/" + name), value: Array(name.utf8)) }
            let migration = Self.migration(source, target)
            _ = try await migration.run()
            let marks = Mutex<[Bool]>([])
            #expect(try await migration.verify(progress: { report in marks.withLock { $0.append(report.verifying) } }).isClean)
            let verifying = marks.withLock { $0 }
            #expect(!verifying.isEmpty && verifying.allSatisfy { $0 }, "verify's reports say so: \(verifying)")

            _ = try await target.set(Self.key("/a"), value: Array("changed!".utf8))
            try await target.delete(Self.key("/b"))
            _ = try await target.create(Self.key("/z"), value: [])
            let report = try await migration.verify()
            #expect(!report.isClean)
            #expect(report.differenceCount == 2)
            #expect(report.differences == [
                .differentValue(Self.key("/a"), sourceBytes: 1, targetBytes: 8), .missingOnTarget(Self.key("/b")),
            ])
            #expect(report.onlyOnTarget == 1 && report.onlyOnTargetKeys == [Self.key("/z")])
            #expect(report.sourceDigest != report.targetDigest)
            #expect(try await migration.verify(limit: 1).differences.count == 1)
            let mirror = try await migration.verify(mirror: true)
            #expect(mirror.differenceCount == 3 && mirror.differences.last == .extraOnTarget(Self.key("/z")))

            // Keys only on the target alone do not fail a verify: a copy leaves them be.
            _ = try await migration.run()
            #expect(try await migration.verify().isClean)
            #expect(try await !migration.verify(mirror: true).isClean)
        }
    }

    @Test("follow mirrors puts and deletes until cancelled; the catch-up run makes the target a mirror")
    func follow() async throws {
        try await Self.withStores { source, target in
            _ = try await source.create(Self.key("/f/old"), value: [1])
            _ = try await source.create(Self.key("/f/gone"), value: [2])
            let migration = Self.migration(source, target, prefix: Self.key("/f"))
            let (reports, continuation) = AsyncStream.makeStream(of: MigrationProgress.self)
            let task = Task { try await migration.follow { continuation.yield($0) } }
            try await FollowProgressWaits.firstCopyEnded(reports)
            #expect(try await target.get(Self.key("/f/old"))?.value == [1])

            _ = try await source.set(Self.key("/f/old"), value: [3])
            _ = try await source.create(Self.key("/f/new/deep"), value: [4])
            try await source.delete(Self.key("/f/gone"))
            _ = try await source.create(Self.key("/f/session"), value: [], mode: .ephemeral)
            // Wait until the target shows every change (the watch may coalesce events).
            try await FollowProgressWaits.followed(reports, until: "the target to show every change") {
                try await Self.contents(target, under: Self.key("/f")) == Self.contents(source, under: Self.key("/f"))
            }
            task.cancel()
            let report = try await task.value
            #expect(report.events >= 3)
            #expect(report.counts.deleted >= 1)
            #expect(try await target.get(Self.key("/f/gone")) == nil)
            #expect(try await target.get(Self.key("/f/session")) == nil)

            _ = try await target.create(Self.key("/f/target-only"), value: [])
            let catchUp = try await migration.run(mirror: true)
            #expect(catchUp.counts.deleted == 1)
            #expect(catchUp.deletedKeys == [Self.key("/f/target-only")])
            #expect(try await migration.verify().isClean)
            // The follower never mirrored that key (the source never had it): deleting it is no lag.
            #expect(!report.mirrored.contains(Self.key("/f/target-only")))
            #expect(report.mirrored.contains(Self.key("/f/new/deep")) && !report.mirrored.contains(Self.key("/f/gone")))
            let line = MigrateCommand.lagLine(catchUp, mirrored: report.mirrored, took: .milliseconds(3))
            #expect(line == "lag at stop: 0 keys behind (0 copied, 0 deleted in the catch-up, 3ms); "
                + "also deleted 1 key that only the target had, to make it a mirror")
        }
    }

    @Test("the lag after --follow counts keys copied and mirrored keys deleted in the catch-up, not keys only the target had")
    func lagCounts() {
        var catchUp = MigrationReport(counts: MigrationCounts(), elapsed: .zero, dryRun: false)
        catchUp.counts.copied = 2
        catchUp.counts.deleted = 3
        catchUp.deletedKeys = [Self.key("/m/b"), Self.key("/m/a"), Self.key("/only-target")]
        let line = MigrateCommand.lagLine(catchUp, mirrored: [Self.key("/m/a"), Self.key("/m/b"), Self.key("/m/c")], took: .seconds(2))
        #expect(line == "lag at stop: 4 keys behind (2 copied, 2 deleted in the catch-up, 2.00s); "
            + "also deleted 1 key that only the target had, to make it a mirror")
        catchUp.counts.deleted = 2
        catchUp.deletedKeys.removeLast()
        #expect(MigrateCommand.lagLine(catchUp, mirrored: [Self.key("/m/a"), Self.key("/m/b")], took: .seconds(2))
            == "lag at stop: 4 keys behind (2 copied, 2 deleted in the catch-up, 2.00s)")
    }

    @Test("an ephemeral key on the target is never overwritten, nor anything created beneath it: those keys are counted, listed and reported by verify")
    func ephemeralOnTarget() async throws {
        try await Self.withStores { source, target in
            for (path, value) in [("/a/x", "source"), ("/a/x/y", "child"), ("/b", "b")] {
                _ = try await source.create(Self.key(path), value: Array(value.utf8))
            }
            _ = try await target.create(Self.key("/a/x"), value: Array("live".utf8), mode: .ephemeral)
            let migration = Self.migration(source, target)

            let dry = try await Self.migration(source, target, dryRun: true).run()
            #expect(dry.counts.heldByEphemeral == 2)
            #expect(dry.counts.copied == 1)  // /b (/a, made for the ephemeral key, is already identical)

            let report = try await migration.run()
            #expect(report.counts.heldByEphemeral == 2)
            #expect(report.counts.heldByEphemeralKeys == [Self.key("/a/x"), Self.key("/a/x/y")])
            #expect(report.counts.copied == 1 && report.counts.identical == 1)
            let held = try #require(try await target.get(Self.key("/a/x")))
            #expect(held.isEphemeral && held.value == Array("live".utf8) && held.version == 0)
            #expect(try await target.get(Self.key("/b"))?.value == Array("b".utf8))

            let verification = try await migration.verify()
            #expect(verification.differences == [.ephemeralOnTarget(Self.key("/a/x")), .missingOnTarget(Self.key("/a/x/y"))])
            #expect(verification.differences[0].description == "ephemeral on target (a live session's key, never overwritten): /a/x")

            // One key at a time (what --follow and a failed batch do) holds off the same way.
            #expect(try await migration.putOne(try #require(try await source.get(Self.key("/a/x")))) == .heldByEphemeral)
            #expect(try await migration.putOne(try #require(try await source.get(Self.key("/a/x/y")))) == .heldByEphemeral)
            #expect(try await target.get(Self.key("/a/x"))?.value == Array("live".utf8))

            // Once the session's key is gone, a second run copies them.
            try await target.delete(Self.key("/a/x"))
            let again = try await migration.run()
            #expect(again.counts.heldByEphemeral == 0)
            #expect(again.counts.copied == 2)
            #expect(try await migration.verify().isClean)
        }
    }

    @Test("a mirrored delete leaves a live session's ephemeral key beneath it, and its ancestors, on the target")
    func mirroredDeleteSparesEphemeralKeys() async throws {
        try await Self.withStores { source, target in
            for path in ["/d/p", "/d/p/q", "/d/r"] { _ = try await target.create(Self.key(path), value: []) }
            _ = try await target.create(Self.key("/d/p/e"), value: Array("live".utf8), mode: .ephemeral)
            let migration = Self.migration(source, target)
            #expect(try await migration.deleteOnTarget(Self.key("/d")))
            #expect(try await Self.contents(target, under: Self.key("/d")).keys.sorted() == [Self.key("/d"), Self.key("/d/p")], "the persistent keys left: the ephemeral key's ancestors")
            #expect(try await target.get(Self.key("/d/p/e"))?.value == Array("live".utf8))
            // Without an ephemeral key beneath it, the whole subtree goes.
            #expect(try await migration.deleteOnTarget(Self.key("/d/r")) == false)
            _ = try await target.create(Self.key("/g/h"), value: [])
            #expect(try await migration.deleteOnTarget(Self.key("/g")))
            #expect(try await target.get(Self.key("/g")) == nil)

            // The catch-up's mirroring counts only what it deleted, a dry run alike.
            _ = try await source.create(Self.key("/m/keep"), value: [1])
            for path in ["/m/keep", "/m/p", "/m/x"] { _ = try await target.create(Self.key(path), value: [1]) }
            _ = try await target.create(Self.key("/m/p/e"), value: [], mode: .ephemeral)
            let dry = try await Self.migration(source, target, prefix: Self.key("/m"), dryRun: true).run(mirror: true)
            #expect(dry.counts.deleted == 1 && dry.deletedKeys == [Self.key("/m/x")])
            let mirrored = try await Self.migration(source, target, prefix: Self.key("/m")).run(mirror: true)
            #expect(mirrored.counts.deleted == 1 && mirrored.deletedKeys == [Self.key("/m/x")])
            #expect(try await target.get(Self.key("/m/p")) != nil)
            #expect(try await target.get(Self.key("/m/p/e")) != nil)
        }
    }

    /// A target whose writes are refused (as a server refusing them would): the migration's
    /// errors name the key and say it was the migration's write.
    struct RefusingStore: ForwardingStore {
        let base: any CoordinationStore
        var refused: CoordinationError { CoordinationError(.permissionDenied, "not allowed") }
        func create(_ key: Key, value: [UInt8], mode: CreateMode) async throws -> Record {
            throw CoordinationError(.permissionDenied, "not allowed", key: key)
        }
        func transaction(_ operations: [Coordination.Operation]) async throws -> [OperationResult] {
            throw refused.inTransaction(operation: operations.count - 1, of: operations.count)
        }
    }

    @Test("a write refused by the target names the key and that it was the migration's write, with the store's code")
    func targetErrorsNameTheKey() async throws {
        try await Self.withStores { source, target in
            _ = try await source.create(Self.key("/k1"), value: [1])
            _ = try await source.create(Self.key("/k2"), value: [2])
            let migration = Self.migration(source, RefusingStore(base: target))
            let error = try await #require(throws: CoordinationError.self) { try await migration.run() }
            #expect(error.code == .permissionDenied)
            #expect(error.message == "the migration's create of /k2 (in a transaction of 2 keys) on the target failed: "
                + "transaction operation 2 of 2 failed: not allowed")

            let one = try await #require(throws: CoordinationError.self) {
                try await migration.putOne(Record(key: Self.key("/k1"), value: [1], version: 0, createRevision: 1, modRevision: 1, isEphemeral: false))
            }
            #expect(one.code == .permissionDenied)
            #expect(one.message == "the migration's write of /k1 on the target failed: not allowed")
        }
    }

    /// With several transactions in flight, those already sent when the run stopped used to land
    /// uncounted.
    @Test(
        "a run that stops (cancelled here) reports the exact counts of what it wrote, with one transaction in flight or several",
        arguments: [(concurrency: 1, batchSize: 1, keys: 200), (concurrency: 8, batchSize: 5, keys: 2000)])
    func stoppedReport(concurrency: Int, batchSize: Int, keys: Int) async throws {
        try await Self.withStores { source, target in
            for i in 0..<keys { _ = try await source.create(Self.key("/s/k\(i)"), value: [UInt8(i % 251)]) }
            var options = MigrationOptions()
            options.concurrency = concurrency
            options.batchSize = batchSize
            options.progressEvery = 1
            let migration = StoreMigration(source: source, target: target, options: options, logger: Self.logger)
            let stopped = Mutex<MigrationProgress?>(nil)
            let task = Task {
                try await migration.run { progress in
                    if progress.stopped { stopped.withLock { $0 = progress } }
                    if progress.phase == .writing && progress.counts.done >= 50 { withUnsafeCurrentTask { $0?.cancel() } }
                }
            }
            let result = await task.result
            #expect(throws: CancellationError.self) { try result.get() }
            let report = try #require(stopped.withLock { $0 })
            let written = try await Self.contents(target).count
            #expect(report.counts.copied == written, "\(report.counts.copied) reported, \(written) on the target")
            #expect(written >= 50 && written < keys + 1, "the run stopped part way")
        }
    }

    /// Concurrent batches report in any order: the lists named whichever keys came first.
    @Test("the keys a summary lists are the first in key order, whatever order they were counted in")
    func listedKeysInKeyOrder() throws {
        var counts = MigrationCounts()
        for name in ["k7", "k2", "k9", "k0", "k5", "k1", "k8", "k3"].shuffled() {
            counts.overwrite(Self.key("/" + name))
            counts.hold(Self.key("/h/" + name))
            counts.skip("/s/" + name, CoordinationError(.valueTooLarge, "too large"))
        }
        #expect(counts.overwrittenKeys.map(\.path) == ["/k0", "/k1", "/k2", "/k3", "/k5"])
        #expect(counts.heldByEphemeralKeys.map(\.path) == ["/h/k0", "/h/k1", "/h/k2", "/h/k3", "/h/k5"])
        #expect(counts.skippedKeys.map(\.path) == ["/s/k0", "/s/k1", "/s/k2", "/s/k3", "/s/k5", "/s/k7", "/s/k8", "/s/k9"])
        #expect(counts.overwritten == 8 && counts.heldByEphemeral == 8 && counts.skipped == 8)
    }

    @Test("a run cancelled while the source is still being read fails: the levels read so far never pass for the whole source")
    func cancelledDuringSourceRead() async throws {
        try await Self.withStores { source, target in
            var options = MigrationOptions()
            options.progressEvery = 1
            let migration = StoreMigration(source: source, target: target, options: options, logger: Self.logger)
            let (levels, feed) = AsyncThrowingStream<[Record], any Error>.makeStream()
            let first = Record(key: Self.key("/a"), value: [1], version: 0, createRevision: 1, modRevision: 1, isEphemeral: false)
            feed.yield([first])  // the reader then goes quiet, as a slow source does
            let task = Task {
                var counts = MigrationCounts()
                try await migration.copy(from: levels, mirror: false, counts: &counts, start: .now) { progress in
                    if progress.phase == .writing && progress.counts.done >= 1 { withUnsafeCurrentTask { $0?.cancel() } }
                }
                return counts
            }
            let result = await task.result
            #expect(throws: CancellationError.self) { _ = try result.get() }
            feed.finish()
        }
    }

    @Test("targetIsSource: two handles on one store with nested namespaces, either way round; not two stores, nor disjoint namespaces; no marker left")
    func targetIsSource() async throws {
        let one = try TestHandles(.memory, test: "targetIsSource")
        let elsewhere = MemoryServer()
        try await TestHandles.closing(one) {
            let outer = try await one.open()
            let inner = try await TestBackend.memory.open(one.namespace.appending(Self.key("/copy")), .seconds(3))
            let apart = try await TestBackend.memory.open(one.namespace.appending(Self.key("/copy2")), .seconds(3))
            let other = try await elsewhere.connect(namespace: one.namespace.appending(Self.key("/copy")))
            func check(_ from: any CoordinationStore, _ to: any CoordinationStore) async throws -> Bool {
                try await StoreMigration(source: from, target: to, options: MigrationOptions(), logger: Self.logger).targetIsSource()
            }
            #expect(try await check(outer, inner))
            #expect(try await check(inner, outer))
            #expect(try await check(outer, outer))
            #expect(try await !check(inner, apart))
            #expect(try await !check(outer, other), "another server, whose namespace the source's lies under")
            #expect(try await !check(other, outer), "another server, whose namespace lies under the target's")
            let left = try await outer.records(under: .root).map(\.key.name).filter { $0.hasPrefix(StoreMigration.markerName) }
            #expect(left.isEmpty, "\(left)")
            for store in [inner, apart, other] as [any CoordinationStore] { await store.close() }
        }
    }

    @Test("transactions stay within the portable limits; a maximum-size value goes alone")
    func batches() {
        let small = (0..<200).map { Record(key: Self.key("/k\($0)"), value: [1], version: 0, createRevision: 1, modRevision: 1, isEphemeral: false) }
        let big = Record(
            key: Self.key("/big"), value: Array(repeating: 7, count: CoordinationLimits.maxValueBytes), version: 0,
            createRevision: 1, modRevision: 1, isEphemeral: false)
        let batches = StoreMigration.batches(small + [big] + small, size: 64)
        #expect(batches.allSatisfy { $0.count <= 64 })
        #expect(batches.joined().count == 401)
        #expect(batches.contains { $0.count == 1 && $0[0].key == big.key })
        for batch in batches where batch.count > 1 {
            #expect(batch.reduce(0) { $0 + $1.value.count + $1.key.path.utf8.count } <= CoordinationLimits.maxTransactionBytes)
        }
    }

    @Test("sequence numbers are read from names ending in ten digits, a prefix before them or none")
    func sequenceNumbers() {
        #expect(StoreMigration.sequenceNumber("job-0000000042") == 42)
        #expect(StoreMigration.sequenceNumber("x0000000000") == 0)
        #expect(StoreMigration.sequenceNumber("0000000042") == 42)
        #expect(StoreMigration.sequenceNumber("000000042") == nil)
        #expect(StoreMigration.sequenceNumber("job-00000042") == nil)
        #expect(StoreMigration.sequenceNumber("job-000000004a") == nil)
    }

    @Test("the same store with overlapping subtrees is refused; different namespaces or servers are not")
    func overlap() throws {
        let zk = try StoreURL("zookeeper://127.0.0.1:2181/app")
        #expect(MigrateCommand.overlaps(zk, zk, prefix: .root))
        #expect(MigrateCommand.overlaps(zk, try StoreURL("zookeeper://127.0.0.1:2181,h2:2181/app/sub"), prefix: .root))
        #expect(!MigrateCommand.overlaps(zk, try StoreURL("zookeeper://127.0.0.1:2181/app2"), prefix: .root))
        #expect(!MigrateCommand.overlaps(zk, try StoreURL("zookeeper://10.0.0.1:2181/app"), prefix: .root))
        #expect(!MigrateCommand.overlaps(zk, try StoreURL("etcd://127.0.0.1:2181/app"), prefix: .root))
        #expect(MigrateCommand.overlaps(try StoreURL("etcd://h:2379"), try StoreURL("etcds://h:2379/x"), prefix: .root))
        #expect(MigrateCommand.overlaps(try StoreURL("memory://"), try StoreURL("memory:///a"), prefix: .root))
        #expect(!MigrateCommand.overlaps(try StoreURL("memory://one"), try StoreURL("memory://two"), prefix: .root))
    }

    @Test("off a terminal, the heartbeat repeats the latest progress whenever nothing was printed for its interval, until cancelled")
    func heartbeat() async throws {
        let (lines, continuation) = AsyncStream<String>.makeStream()
        let printer = MigrationProgressPrinter(terminal: false, write: { continuation.yield($0) })
        var counts = MigrationCounts()
        counts.copied = 1
        printer.report(MigrationProgress(phase: .following, counts: counts, read: 1, total: 3, elapsed: .seconds(1), phaseEnded: true))
        let beating = Task { await printer.heartbeat(every: .milliseconds(20)) }
        var iterator = lines.makeAsyncIterator()
        let first = await iterator.next()
        #expect(first == "following: 1 event, 1 written, 0 deleted, 3 keys mirrored\n")
        #expect(await iterator.next() == first, "again: nothing else was printed meanwhile")
        beating.cancel()
        await beating.value
        let quiet = MigrationProgressPrinter(terminal: true, write: { _ in Issue.record("a terminal keeps its own line") })
        await quiet.heartbeat(every: .milliseconds(1))
    }

    @Test("migrate's lines say 1 key and 2 keys")
    func plurals() {
        var counts = MigrationCounts()
        counts.copied = 1
        counts.sourceKeys = 1
        counts.countersChecked = 1
        let one = MigrateCommand.summary(counts, elapsed: .milliseconds(5), rate: 200, dryRun: false)
        #expect(one.hasPrefix("copied 1 key, skipped 0 identical and 0 ephemeral (1 persistent key on the source) in 5ms"), "\(one)")
        #expect(one.hasSuffix("\nsequence counters: 1 parent checked, 0 moved forward"), "\(one)")
        counts.copied = 2
        counts.sourceKeys = 2
        #expect(MigrateCommand.summary(counts, elapsed: .milliseconds(5), rate: 400, dryRun: true)
            .hasPrefix("dry run: would copy 2 keys (0 overwriting a different value on the target), skipped 0 identical and 0 ephemeral (2 persistent keys on the source)"))
        let reading = MigrationProgress(phase: .readingSource, counts: counts, read: 1, total: 0, elapsed: .seconds(1), phaseEnded: false)
        #expect(MigrationProgressPrinter.text(reading) == "reading source: 1 key (1 keys/s overall)")
        var verifying = reading
        verifying.verifying = true
        #expect(MigrationProgressPrinter.text(verifying) == "verify, reading source: 1 key (1 keys/s overall)", "not a copy starting over")
    }
}
