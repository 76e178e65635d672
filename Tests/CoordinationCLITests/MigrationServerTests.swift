import Coordination
import CoordinationTestSupport
import Foundation
import Logging
import Testing
@testable import CoordinationCLI
@testable import CoordinationMigration

/// ``StoreMigration`` between the real ZooKeeper and etcd, each test under fresh namespaces.
/// Figures (keys per second) are printed, never asserted.
@Suite("StoreMigration between ZooKeeper and etcd", .serverLoadLimit)
struct MigrationServerTests {
    static let logger = Logger(label: "test.migration")

    static func key(_ path: String) -> Key { try! Key(path) }

    /// Options as `coord migrate` chooses them for these stores. `fullSpeed: false` (the CI tests)
    /// keeps fewer requests in flight, so that the shared servers stay responsive for the suites
    /// running beside these (whose session and timeout checks starve otherwise).
    static func migration(
        _ source: any CoordinationStore, _ target: any CoordinationStore, fullSpeed: Bool = false
    ) -> StoreMigration {
        var options = MigrationOptions()
        let width = fullSpeed ? 64 : 8
        options.sourceReads = source.isZooKeeper ? .parallel(width: width) : .walk
        options.targetReads = target.isZooKeeper ? .parallel(width: width) : .walk
        if !fullSpeed { options.concurrency = 4 }
        return StoreMigration(source: source, target: target, options: options, logger: logger)
    }

    /// A mixed tree of about `count` keys: depth up to 8, binary values (one of the maximum size),
    /// sequential children with gaps, ephemeral keys. Written with many creates in flight.
    static func fill(_ store: any CoordinationStore, count: Int, inFlight: Int = 8) async throws {
        var big = Array(repeating: UInt8(0), count: CoordinationLimits.maxValueBytes)
        for i in big.indices { big[i] = UInt8(truncatingIfNeeded: i &* 31 &+ 7) }
        _ = try await store.create(key("/big"), value: big)
        _ = try await store.create(key("/binary"), value: (0...255).map(UInt8.init))
        _ = try await store.create(key("/empty"), value: [])
        var deep = "/deep"
        for level in 2...8 {
            deep += "/l\(level)"
            _ = try await store.create(key(deep), value: [UInt8(level), 0, 0xFF])
        }
        // Sequential children under two parents; most of one parent's deleted, leaving a gap.
        var queue: [Record] = []
        for _ in 0..<90 { queue.append(try await store.create(key("/seq/queue/job-"), value: [1], mode: .sequential)) }
        for record in queue.dropLast().filter({ StoreMigration.sequenceNumber($0.key.name)! % 10 != 0 }) {
            try await store.delete(record.key)
        }
        for _ in 0..<5 { _ = try await store.create(key("/seq/other/n-"), value: [2], mode: .sequential) }
        _ = try await store.create(key("/live/member"), value: [3], mode: .ephemeral)
        _ = try await store.create(key("/live/lock-"), value: [4], mode: .ephemeralSequential)

        let rest = count - 120
        try await withThrowingTaskGroup(of: Void.self) { group in
            for i in 0..<rest {
                if i >= inFlight { try await group.next() }
                group.addTask {
                    let path = "/bulk/g\(i % 16)/s\(i % 5)/d\(i % 3)/k\(i)"
                    _ = try await store.put(key(path), value: Array("value \(i) ".utf8) + [UInt8(i % 256), 0])
                }
            }
            try await group.waitForAll()
        }
    }

    /// Every persistent key with its value (read with many requests in flight: ZooKeeper's own
    /// walk goes key by key).
    static func contents(_ store: any CoordinationStore) async throws -> [Key: [UInt8]] {
        var result: [Key: [UInt8]] = [:]
        for record in try await ParallelTreeRead(store: store, width: 8).records(under: .root, progress: { _ in })
        where !record.isEphemeral {
            result[record.key] = record.value
        }
        return result
    }

    /// A new sequential key under each sequential parent sorts after every existing child.
    static func expectSequentialAfter(
        _ store: any CoordinationStore, _ label: String,
        parents: [(String, String)] = [("/seq/queue", "job-"), ("/seq/other", "n-")]
    ) async throws {
        for (parent, prefix) in parents {
            let before = try await store.children(of: key(parent))
            let created = try await store.create(key(parent + "/" + prefix), value: [], mode: .sequential)
            #expect(
                before.allSatisfy { $0.utf8.lexicographicallyPrecedes(created.key.name.utf8) },
                "\(label): new \(created.key) must sort after \(before.last ?? "nothing")")
            try await store.delete(created.key)
        }
    }

    static func report(_ label: String, _ report: MigrationReport) {
        print("migration \(label): \(report.counts.copied) copied, \(report.counts.identical) identical, "
            + "\(report.counts.ephemeral) ephemeral in \(report.elapsed): \(Int(report.keysPerSecond)) keys/s; "
            + report.phases.map { "\($0.phase.rawValue) done at \($0.endedAt)" }.joined(separator: ", "))
    }

    /// A name that only looks sequential made a migration spend its number in probe keys, one
    /// by one: about 29 days to etcd, 22 hours to ZooKeeper.
    @Test(
        "a copied name numbered 1700000000 moves the counter in one write where the target can (etcd, memory) and is left behind, reported, where it cannot (ZooKeeper); a near number still moves",
        arguments: TestBackend.all)
    func farSequenceNumbers(_ backend: TestBackend) async throws {
        let from = try TestHandles(.memory, test: "farSequenceNumbers-\(backend.name)")
        let to = try TestHandles(backend)
        try await TestHandles.closing(from, to) {
            let source = try await from.open()
            _ = try await source.create(Self.key("/events/login-1700000000"), value: Array("alice".utf8))
            _ = try await source.create(Self.key("/queue/job-0000000040"), value: [])
            let target = try await to.open()
            let report = try await Self.migration(source, target).run()
            #expect(report.counts.copied == 4)
            #expect(report.counts.countersChecked == 2)
            let near = try await target.create(Self.key("/queue/job-"), value: [], mode: .sequential)
            #expect(near.key.name > "job-0000000040", "\(near.key)")
            let far = try await target.create(Self.key("/events/login-"), value: [], mode: .sequential)
            if target is any SequenceCounterAdvancing {
                #expect(report.counts.countersLeftBehind == 0)
                #expect(far.key.name == "login-1700000001", "\(far.key)")
            } else {
                // ZooKeeper: only creates and deletes move a parent's counter.
                #expect(report.counts.countersLeftBehind == 1)
                #expect(report.counts.countersLeftBehindUnder.map(\.parent) == [Self.key("/events")])
                #expect(report.counts.countersLeftBehindUnder.map(\.highest) == [1_700_000_000])
                #expect(far.key.name < "login-1700000000", "\(far.key)")
            }
            let summary = MigrateCommand.summary(report.counts, elapsed: report.elapsed, rate: 0, dryRun: false)
            #expect(summary.contains("left behind: /events (a name numbered 1700000000)") == (report.counts.countersLeftBehind == 1), "\(summary)")
        }
    }

    @Test(
        "advanceSequenceCounter moves a counter past a number in one write, leaves one already past alone, refuses a missing parent and the last number",
        arguments: [TestBackend.memory, TestBackend.etcd])
    func advanceSequenceCounter(_ backend: TestBackend) async throws {
        let handles = try TestHandles(backend)
        try await TestHandles.closing(handles) {
            let store = try #require(try await handles.open() as? any SequenceCounterAdvancing)
            let parent = Self.key("/q")
            _ = try await store.create(parent, value: [])
            #expect(try await store.advanceSequenceCounter(under: parent, past: 41))
            #expect(try await store.create(Self.key("/q/n-"), value: [], mode: .sequential).key.name == "n-0000000042")
            #expect(try await !store.advanceSequenceCounter(under: parent, past: 42), "already past 42")
            #expect(try await store.create(Self.key("/q/n-"), value: [], mode: .sequential).key.name == "n-0000000043")
            // The counter now stands at exactly 44 (the next name): passing 44 must still move it.
            #expect(try await store.advanceSequenceCounter(under: parent, past: 44), "at 44, not yet past it")
            #expect(try await store.create(Self.key("/q/n-"), value: [], mode: .sequential).key.name == "n-0000000045")
            #expect(try await store.advanceSequenceCounter(under: .root, past: 7))
            #expect(try await store.create(Self.key("/r-"), value: [], mode: .sequential).key.name == "r-0000000008")
            do {
                _ = try await store.advanceSequenceCounter(under: Self.key("/missing"), past: 3)
                Issue.record("a missing parent has no counter to move")
            } catch let error as CoordinationError {
                #expect(error.code == .noNode, "\(error)")
            }
            do {
                _ = try await store.advanceSequenceCounter(under: parent, past: CoordinationLimits.maxSequenceNumber)
                Issue.record("no number follows the last one")
            } catch let error as CoordinationError {
                #expect(error.code == .invalidKey, "\(error)")
            }
        }
    }

    @Test("ZooKeeper → etcd → ZooKeeper: byte-identical, and new sequential keys sort after the old ones on both")
    func roundTrip() async throws {
        let zk = try TestHandles(.zookeeper)
        let etcd = try TestHandles(.etcd)
        let back = try TestHandles(.zookeeper, test: "roundTripBack")
        try await TestHandles.closing(zk, etcd, back) {
            let source = try await zk.open()
            try await Self.fill(source, count: 2000)
            let original = try await Self.contents(source)
            #expect(original.count > 1900)

            let toEtcd = try await etcd.open()
            let there = try await Self.migration(source, toEtcd).run()
            Self.report("zookeeper → etcd", there)
            #expect(there.counts.ephemeral == 2)
            #expect(there.counts.copied == original.count)
            #expect(try await Self.contents(toEtcd) == original)
            #expect(try await Self.migration(source, toEtcd).verify().isClean)
            try await Self.expectSequentialAfter(toEtcd, "etcd")

            let toZooKeeper = try await back.open()
            let backAgain = try await Self.migration(toEtcd, toZooKeeper).run()
            Self.report("etcd → zookeeper", backAgain)
            #expect(try await Self.contents(toZooKeeper) == original)
            #expect(try await Self.migration(toEtcd, toZooKeeper).verify().isClean)
            try await Self.expectSequentialAfter(toZooKeeper, "zookeeper")

            // Idempotent: a second run writes nothing.
            let again = try await Self.migration(source, toEtcd).run()
            #expect(again.counts.copied == 0)
            #expect(again.counts.identical == original.count)
        }
    }

    @Test("a ZooKeeper → etcd migration cancelled half way, run again, completes with verify clean")
    func interruptedThenResumed() async throws {
        let zk = try TestHandles(.zookeeper)
        let etcd = try TestHandles(.etcd)
        let source = try await zk.open()
        let target = try await etcd.open()
        try await TestHandles.closing(zk, etcd) {
            try await Self.fill(source, count: 1000)
            let migration = Self.migration(source, target)
            // Interrupted from inside, at a known point: the run's task is cancelled once 300 keys are written.
            let task = Task {
                try await migration.run { progress in
                    if progress.phase == .writing && progress.counts.done >= 300 { withUnsafeCurrentTask { $0?.cancel() } }
                }
            }
            let interrupted = await task.result
            #expect(throws: CancellationError.self) { try interrupted.get() }

            let partial = try await Self.contents(target).count
            #expect(partial >= 300)
            #expect(partial < (try await Self.contents(source)).count, "the first run stopped part way")

            let resumed = try await migration.run()
            Self.report("resumed", resumed)
            #expect(resumed.counts.identical >= 300)
            #expect(resumed.counts.copied + resumed.counts.identical == resumed.counts.sourceKeys)
            let verification = try await migration.verify()
            #expect(verification.isClean, "\(verification.differences)")
            try await Self.expectSequentialAfter(target, "etcd after resume")
        }
    }

    @Test("follow mirrors ZooKeeper changes onto etcd (puts, sets, deletes, sequential keys) until cancelled")
    func follow() async throws {
        let zk = try TestHandles(.zookeeper)
        let etcd = try TestHandles(.etcd)
        try await TestHandles.closing(zk, etcd) {
            let source = try await zk.open()
            let target = try await etcd.open()
            for i in 0..<20 { _ = try await source.create(Self.key("/m/k\(i)"), value: [UInt8(i)]) }
            let migration = Self.migration(source, target)
            let (reports, continuation) = AsyncStream.makeStream(of: MigrationProgress.self)
            let task = Task { try await migration.follow { continuation.yield($0) } }
            try await FollowProgressWaits.firstCopyEnded(reports)
            #expect(try await Self.contents(target) == Self.contents(source))

            _ = try await source.set(Self.key("/m/k1"), value: Array(repeating: 0xAB, count: 5000))
            try await source.delete(Self.key("/m/k2"))
            _ = try await source.create(Self.key("/m/new/a/b/c"), value: [0, 1])
            for _ in 0..<3 { _ = try await source.create(Self.key("/m/q/job-"), value: [], mode: .sequential) }
            _ = try await source.create(Self.key("/m/eph"), value: [], mode: .ephemeral)
            // Each report follows an applied event; stop once the target shows every change.
            try await FollowProgressWaits.followed(reports, until: "the target to show every change") {
                try await Self.contents(target) == Self.contents(source)
            }
            task.cancel()
            let followed = try await task.value
            #expect(followed.events >= 3)
            #expect(try await target.get(Self.key("/m/eph")) == nil)

            let catchUp = try await migration.run(mirror: true)
            #expect(catchUp.counts.copied + catchUp.counts.deleted == 0, "nothing was behind")
            #expect(try await migration.verify().isClean)
            try await Self.expectSequentialAfter(target, "etcd after follow", parents: [("/m/q", "job-")])
        }
    }

    @Test(
        "10,000 keys ZooKeeper → etcd and back (COORD_ACCEPTANCE=1)",
        .enabled(if: ProcessInfo.processInfo.environment["COORD_ACCEPTANCE"] == "1", "set COORD_ACCEPTANCE=1 to run"))
    func tenThousand() async throws {
        let zk = try TestHandles(.zookeeper)
        let etcd = try TestHandles(.etcd)
        let back = try TestHandles(.zookeeper, test: "tenThousandBack")
        try await TestHandles.closing(zk, etcd, back) {
            let source = try await zk.open()
            try await Self.fill(source, count: 10_000, inFlight: 32)
            let toEtcd = try await etcd.open()
            let there = try await Self.migration(source, toEtcd, fullSpeed: true).run()
            Self.report("10k zookeeper → etcd", there)
            #expect(try await Self.migration(source, toEtcd, fullSpeed: true).verify().isClean)
            let toZooKeeper = try await back.open()
            let backAgain = try await Self.migration(toEtcd, toZooKeeper, fullSpeed: true).run()
            Self.report("10k etcd → zookeeper", backAgain)
            #expect(try await Self.migration(toEtcd, toZooKeeper, fullSpeed: true).verify().isClean)
        }
    }
}

extension CoordinationStore {
    fileprivate var isZooKeeper: Bool { String(describing: type(of: self)).contains("ZooKeeper") }
}
