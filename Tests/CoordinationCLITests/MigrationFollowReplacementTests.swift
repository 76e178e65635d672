import Coordination
import CoordinationTestSupport
import Foundation
import Logging
import Testing
@testable import CoordinationMigration

/// `--follow` when a persistent key the target mirrors becomes a live session's ephemeral key on
/// the source: the mirror must lose the persistent copy, however the source's watch tells it.
@Suite("StoreMigration follow: keys replaced by ephemeral keys", .serverLoadLimit)
struct MigrationFollowReplacementTests {
    static let logger = Logger(label: "test.migration")

    static func key(_ path: String) -> Key { try! Key(path) }

    /// Every persistent key with its value under `/r`.
    static func contents(_ store: any CoordinationStore) async throws -> [Key: [UInt8]] {
        var result: [Key: [UInt8]] = [:]
        for record in try await store.records(under: key("/r")) where !record.isEphemeral { result[record.key] = record.value }
        return result
    }

    /// ZooKeeper gets each replacement in one multi that first sets the key: the set fires (and
    /// so spends) the key's data watch, so its delete fires nothing, and the re-read finds an
    /// ephemeral key where a persistent one was: a `put` of it (a delete and a create between a
    /// change and its re-read coalesce the same way). Seen here: for the parent, a put of the
    /// ephemeral key, then its child's delete, and no delete of the parent at all. etcd refuses a
    /// txn that names a key twice and the embedded store reports each write, so there the deletes
    /// come as events of their own.
    @Test(
        "follow deletes on the target a key the source deleted and re-created as a session's ephemeral key, and a parent re-created so after its child went",
        arguments: TestBackend.all)
    func ephemeralReplacement(_ backend: TestBackend) async throws {
        let from = try TestHandles(backend, test: "followEphemeralReplacement-\(backend.name)")
        let to = try TestHandles(.etcd, test: "followEphemeralReplacementTarget")
        try await TestHandles.closing(from, to) {
            let source = try await from.open()
            let target = try await to.open()
            for path in ["/r/k", "/r/p/c", "/r/stay"] { _ = try await source.create(Self.key(path), value: [1]) }
            var options = MigrationOptions(prefix: Self.key("/r"))
            options.concurrency = 4
            let migration = StoreMigration(source: source, target: target, options: options, logger: Self.logger)
            let (reports, continuation) = AsyncStream.makeStream(of: MigrationProgress.self)
            let task = Task { try await migration.follow { continuation.yield($0) } }
            defer { task.cancel() }
            try await FollowProgressWaits.firstCopyEnded(reports)
            #expect(try await Self.contents(target) == Self.contents(source))

            let k = Self.key("/r/k")
            let p = Self.key("/r/p")
            let c = Self.key("/r/p/c")
            if backend.name == "zookeeper" {
                _ = try await source.transaction([
                    .set(k, value: [3], ifVersion: nil), .delete(k, ifVersion: nil), .create(k, value: [9], mode: .ephemeral),
                ])
                _ = try await source.transaction([
                    .set(p, value: [3], ifVersion: nil), .delete(c, ifVersion: nil), .delete(p, ifVersion: nil),
                    .create(p, value: [9], mode: .ephemeral),
                ])
            } else {
                try await source.delete(k)
                _ = try await source.create(k, value: [9], mode: .ephemeral)
                try await source.delete(p, ifVersion: nil, recursive: true)
                _ = try await source.create(p, value: [9], mode: .ephemeral)
            }
            // Events are applied in order: once this later key is on the target, so is every change before it.
            let marker = Self.key("/r/marker")
            _ = try await source.create(marker, value: [2])
            try await FollowProgressWaits.followed(reports, until: "the marker to be mirrored") { try await target.get(marker) != nil }

            #expect(try await target.get(k) == nil, "the persistent copy of a key the source now holds as a session's key")
            #expect(try await target.get(p) == nil)
            #expect(try await target.get(c) == nil)
            #expect(try await Self.contents(target) == Self.contents(source))
            task.cancel()
            _ = try await task.value
            let catchUp = try await migration.run(mirror: true)
            #expect(catchUp.counts.deleted == 0, "the follower left nothing behind for the catch-up: \(catchUp.deletedKeys)")
        }
    }
}
