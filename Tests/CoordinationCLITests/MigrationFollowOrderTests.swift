import Coordination
import CoordinationTestSupport
import CoordinationZooKeeper
import Logging
import Testing
@testable import CoordinationMigration

/// `--follow` while a writer changes a few keys many times in quick succession: sets, deletes,
/// re-creates, and a parent deleted with its children and re-created beneath them. The follower
/// applies one event at a time, in the watch's order, so the target must end equal to the source,
/// and a key's values on the target must come in the order the source had them: an older value
/// written after a newer one would leave the target stale while the follower thinks it is done.
@Suite("StoreMigration follow: one key changed many times", .serverLoadLimit)
struct MigrationFollowOrderTests {
    static func key(_ path: String) -> Key { try! Key(path) }

    static let a = key("/h/a")
    static let b = key("/h/b")
    static let parent = key("/h/p")
    /// The key changed most often, also deleted alone and with its parent.
    static let watched = key("/h/p/c1")
    static let sibling = key("/h/p/c2")

    /// A source store and a target store.
    struct Pair: Sendable, CustomTestStringConvertible {
        let source: TestBackend
        let target: TestBackend
        var testDescription: String { "\(source.name) → \(target.name)" }
    }

    static let pairs = [
        Pair(source: .zookeeper, target: .etcd), Pair(source: .etcd, target: .zookeeper), Pair(source: .memory, target: .memory),
    ]

    /// How many rounds of changes the writer makes: about 1,100 writes, a second or two on the servers.
    static let rounds = 150

    /// The value carrying write number `serial`: each write of ``churn(_:)`` gets the next one, so a
    /// value says when it was written.
    static func value(_ serial: UInt64) -> [UInt8] {
        (0..<8).reversed().map { UInt8(truncatingIfNeeded: serial >> (UInt64($0) * 8)) }
    }

    /// The write number in a value of ``value(_:)``; `nil` for any other value.
    static func serial(_ value: [UInt8]) -> UInt64? {
        value.count == 8 ? value.reduce(0) { $0 << 8 | UInt64($1) } : nil
    }

    /// Deletes `key`, if it is there.
    static func deleteIfPresent(_ store: any CoordinationStore, _ key: Key, recursive: Bool = false) async throws {
        do {
            try await store.delete(key, recursive: recursive)
        } catch let error as CoordinationError where error.code == .noNode {}
    }

    /// Changes the keys under `/h` as fast as one writer can, one write after another, each value
    /// the next write number after `serial` (``value(_:)`` 0 is the initial one).
    /// - Returns: the last write number.
    static func churn(_ store: any CoordinationStore, rounds: Range<Int>, after serial: UInt64) async throws -> UInt64 {
        var serial = serial
        func next() -> [UInt8] {
            serial += 1
            return value(serial)
        }
        for round in rounds {
            _ = try await store.put(watched, value: next())
            _ = try await store.put(a, value: next())
            _ = try await store.put(watched, value: next())
            if round % 3 == 0 { try await store.delete(a) }
            _ = try await store.put(b, value: next())
            if round % 4 == 1 { try await store.delete(watched) }
            if round % 5 == 2 {
                // The parent goes with its children; a child's put creates it again, empty.
                try await store.delete(parent, recursive: true)
                _ = try await store.put(sibling, value: next())
            }
            if round % 7 == 3 { _ = try await store.put(parent, value: next()) }
            _ = try await store.put(watched, value: next())
        }
        return serial
    }

    /// The last changes after ``churn(_:rounds:after:)``: `/h/a` and `/h/p/c2` deleted, `/h/p`
    /// re-created as an empty ancestor of `/h/p/c1`, so that the final state needs deletes as
    /// well as values.
    static func churnEnd(_ store: any CoordinationStore, after serial: UInt64) async throws {
        do {
            try await store.delete(a)
        } catch let error as CoordinationError where error.code == .noNode {}  // the last round deleted it
        try await store.delete(parent, recursive: true)
        _ = try await store.put(watched, value: value(serial + 1))
    }

    /// Starts following from `source` to `target` with the writer's first rounds (on the servers
    /// they overlap the follower's first copy; the embedded store is done before it), the other
    /// rounds and the last changes once the follower follows the source's changes, written by
    /// `interrupting` (which may cut the follower off around them); then waits until the target
    /// equals the source, stops the follower, and checks that nothing it did landed later over
    /// that state and that the catch-up at stop finds nothing left to do.
    /// - Parameter writer: a handle on the source's namespace to write through (`source` if `nil`).
    /// - Returns: what the follower reported.
    @discardableResult
    static func followChurn(
        _ source: any CoordinationStore, _ target: any CoordinationStore, _ label: String,
        writer: (any CoordinationStore)? = nil,
        interrupting: (_ writeRest: () async throws -> Void) async throws -> Void = { try await $0() }
    ) async throws -> FollowReport {
        let writer = writer ?? source
        let migration = MigrationServerTests.migration(source, target)
        let (reports, continuation) = AsyncStream.makeStream(of: MigrationProgress.self)
        let follow = Task { try await migration.follow { continuation.yield($0) } }
        defer { follow.cancel() }
        let serial = try await churn(writer, rounds: 0..<rounds / 3, after: 0)
        try await FollowProgressWaits.firstCopyEnded(reports)
        try await interrupting {
            try await churnEnd(writer, after: try await churn(writer, rounds: rounds / 3..<rounds, after: serial))
        }
        // Through the writer: the follower's handle may just have been cut off.
        let final = try await MigrationServerTests.contents(writer)
        // Each report follows an applied event: an older value applied last would never match.
        try await FollowProgressWaits.followed(reports, until: "the target to equal the source (\(label))") {
            try await MigrationServerTests.contents(target) == final
        }
        follow.cancel()
        let followed = try await follow.value
        #expect(followed.events > 0, "\(label): the changes reached the follower as events")
        #expect(try await MigrationServerTests.contents(target) == final, "\(label): a write landed after the follower stopped")
        #expect(followed.mirrored == Set(final.keys), "\(label): the keys the follower thinks it mirrors")
        let catchUp = try await migration.run(mirror: true)
        #expect(
            catchUp.counts.copied + catchUp.counts.deleted == 0,
            "\(label): the follower left \(catchUp.counts.copied) writes and \(catchUp.deletedKeys) deletes to the catch-up")
        let verification = try await migration.verify(mirror: true)
        #expect(verification.isClean, "\(label): \(verification.differences)")
        print("follow \(label): \(followed.events) events applied, \(followed.counts.copied) written, \(followed.counts.deleted) deleted, \(followed.resnapshots) re-snapshots")
        return followed
    }

    @Test(
        "follow leaves the target equal to the source after many quick sets, deletes and re-creates of a few keys and of a parent with children",
        arguments: pairs)
    func convergesUnderChurn(_ pair: Pair) async throws {
        let from = try TestHandles(pair.source, test: "followOrder-\(pair.source.name)")
        let to = try TestHandles(pair.target, test: "followOrderTarget-\(pair.target.name)")
        try await TestHandles.closing(from, to) {
            let source = try await from.open()
            let target = try await to.open()
            _ = try await source.put(Self.watched, value: Self.value(0))
            try await Self.followChurn(source, target, pair.testDescription)
        }
    }

    /// A follower cut off from its ZooKeeper source while the writer makes its other changes
    /// learns them from a fresh snapshot (ZooKeeper re-reads its whole scope after a reconnect):
    /// copied, with the keys that vanished from it deleted. The last deletes (`/h/a`, `/h/p/c2`)
    /// reach it only that way.
    @Test("follow leaves the target equal to the source when it lost contact with the ZooKeeper source during the changes")
    func convergesThroughResnapshot() async throws {
        // A session that outlives the cut under load too: a call on the follower's handle right
        // after an expiry would fail (clause 7), though the follower's watch goes on.
        let from = try TestHandles(.zookeeper, ttl: .seconds(20), test: "followOrderCut")
        let to = try TestHandles(.etcd, test: "followOrderCutTarget")
        try await TestHandles.closing(from, to) {
            let source = try await from.open()
            let writer = try await from.open()
            let target = try await to.open()
            guard let zookeeper = source as? ZooKeeperStore else {
                Issue.record("the ZooKeeper test backend opened a \(type(of: source))")
                return
            }
            _ = try await writer.put(Self.watched, value: Self.value(0))
            let followed = try await Self.followChurn(source, target, "zookeeper → etcd, cut off", writer: writer) { writeRest in
                try ZooKeeperSessionDrill.cut(zookeeper)
                defer { try? ZooKeeperSessionDrill.heal(zookeeper) }
                // The follower's handle knows it is cut off before the writer goes on.
                if await zookeeper.waitForSession(within: .seconds(30), where: { $0.state == .suspended }) == nil {
                    throw CoordinationError(.timeout, "the follower's handle did not report the cut")
                }
                try await writeRest()
            }
            #expect(followed.resnapshots >= 1, "the follower's watch began again from a snapshot")
        }
    }

    /// What a client watching a key of the target saw.
    struct Observed: Sendable {
        /// One value: its write number, and the record's revision (a snapshot after a reconnect
        /// shows a record again, which is no new write).
        struct Seen: Sendable, CustomStringConvertible {
            var serial: UInt64
            var revision: Int64
            var description: String { "#\(serial)@\(revision)" }
        }

        /// Each value the key took, in the order seen, a record shown again counted once.
        var seen: [Seen] = []
        /// The key's value now; `nil` when deleted.
        var current: [UInt8]?
        /// Values that are no write number (none of the source's).
        var otherValues = 0

        mutating func note(_ record: Record?) {
            current = record?.value
            guard let record else { return }
            guard let serial = MigrationFollowOrderTests.serial(record.value) else { return otherValues += 1 }
            if seen.last?.revision != record.modRevision { seen.append(Seen(serial: serial, revision: record.modRevision)) }
        }
    }

    /// README (`coord migrate`): `--follow` mirrors puts and deletes through a watch; the follower
    /// applies one event at a time so that nothing is reordered (its contract). So a key's values
    /// on the target are some of the source's, in the source's order: the write numbers a watch
    /// of the target shows only grow, through deletes and re-creates.
    @Test("a key changed many times on the source never shows an older value on the target after a newer one", arguments: pairs)
    func neverGoesBack(_ pair: Pair) async throws {
        let from = try TestHandles(pair.source, test: "followNeverBack-\(pair.source.name)")
        let to = try TestHandles(pair.target, test: "followNeverBackTarget-\(pair.target.name)")
        try await TestHandles.closing(from, to) {
            let source = try await from.open()
            let target = try await to.open()
            let observer = try await to.open()
            _ = try await source.put(Self.watched, value: Self.value(0))
            let (events, continuation) = AsyncThrowingStream.makeStream(of: WatchEvent.self)
            let watching = Task {
                do {
                    for try await event in observer.watch(Self.watched) { continuation.yield(event) }
                    continuation.finish()
                } catch {
                    continuation.finish(throwing: error)
                }
            }
            defer { watching.cancel() }
            // The watch stands (its snapshot came) before the follower writes anything.
            let initial = try await withDeadline("the target's watch to begin") {
                for try await event in events {
                    if case .snapshot(let records) = event { return records }
                    break
                }
                throw CoordinationError(.timeout, "the watch of the target began with no snapshot")
            }
            #expect(initial.isEmpty)

            try await Self.followChurn(source, target, pair.testDescription)
            let final = try await source.get(Self.watched)?.value
            // Until the watch shows the last value, which the target has by now.
            let observed = try await withDeadline("the target's watch to show the last value") {
                var observed = Observed()
                for try await event in events {
                    switch event {
                    case .snapshot(let records): observed.note(records.first)
                    case .put(let record): observed.note(record)
                    case .delete: observed.note(nil)
                    }
                    if observed.current == final { break }
                }
                return observed
            }
            let current = observed.current
            let seen = observed.seen
            let otherValues = observed.otherValues
            #expect(current == final, "\(pair.testDescription): the watch of the target ended before showing the last value")
            // One value only would say nothing about order: the changes came one by one.
            #expect(seen.count > 1, "\(pair.testDescription): the target's key took \(seen.count) value")
            #expect(otherValues == 0, "\(pair.testDescription): values the source never wrote")
            let backwards = zip(seen, seen.dropFirst()).filter { $0.serial >= $1.serial }
            #expect(backwards.isEmpty, "\(pair.testDescription): older values after newer ones: \(backwards.prefix(5))")
            print("follow \(pair.testDescription): the target's \(Self.watched) took \(seen.count) values, write numbers \(seen.first?.serial ?? 0)…\(seen.last?.serial ?? 0)")
        }
    }
}
