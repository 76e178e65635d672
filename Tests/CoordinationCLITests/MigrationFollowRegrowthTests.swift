import Coordination
import CoordinationTestSupport
import Logging
import Synchronization
import Testing
@testable import CoordinationMigration

/// A source key whose value outgrows the target's limit, fits again, and outgrows it again
/// while `follow` runs: each time it stops being mirrored is a new silent difference, said at once.
@Suite("StoreMigration follow: a value that outgrows the limit twice", .serverLoadLimit)
struct MigrationFollowRegrowthTests {
    static func key(_ path: String) -> Key { try! Key(path) }

    /// A source whose watch tells the given events (what an etcd another tool writes to would
    /// send), then stays open.
    struct ScriptedSource: ForwardingStore {
        let base: any CoordinationStore
        let events: [WatchEvent]
        func watch(_ key: Key, scope: WatchScope) -> AsyncThrowingStream<WatchEvent, any Error> {
            let (stream, continuation) = AsyncThrowingStream.makeStream(of: WatchEvent.self)
            for event in events { continuation.yield(event) }
            return stream
        }
    }

    @Test("a key that outgrows the limit, fits again and outgrows it again is named in notMirrored both times", arguments: TestBackend.all)
    func namedEachTimeItOutgrows(_ backend: TestBackend) async throws {
        let from = try TestHandles(.memory, test: "regrowth-\(backend.name)-from")
        let to = try TestHandles(backend, test: "regrowth-\(backend.name)-to")
        try await TestHandles.closing(from, to) {
            let key = Self.key("/grow")
            func record(_ size: Int, revision: Int64) -> Record {
                Record(key: key, value: Array(repeating: 7, count: size), version: revision, createRevision: 1, modRevision: revision, isEphemeral: false)
            }
            let tooLarge = CoordinationLimits.maxValueBytes + 1
            let source = ScriptedSource(base: try await from.open(), events: [
                .snapshot([record(1, revision: 1)]), .put(record(tooLarge, revision: 2)), .put(record(2, revision: 3)),
                .put(record(tooLarge, revision: 4)),
            ])
            let target = try await to.open()
            let migration = StoreMigration(source: source, target: target, options: MigrationOptions(), logger: Logger(label: "test.migration"))
            let (reports, continuation) = AsyncStream.makeStream(of: MigrationProgress.self)
            let task = Task { try await migration.follow { continuation.yield($0) } }
            defer { task.cancel() }
            var named = 0
            var events = 0
            for await report in reports where report.phase == .following && !report.phaseEnded {
                named += report.notMirrored.filter { $0.path == key.path }.count
                events = report.read
                if events == 3 { break }
            }
            #expect(named == 2, "the first and the second outgrowing")
            task.cancel()
            let report = try await task.value
            #expect(report.events == 3)
            #expect(try await target.get(key)?.value == [7, 7], "the last value that fit")
        }
    }
}
