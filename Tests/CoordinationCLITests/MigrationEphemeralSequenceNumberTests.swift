import Coordination
import CoordinationTestSupport
import Logging
import Testing
@testable import CoordinationMigration

/// The numbers of a source's ephemeral sequential keys (a live session's lock or queue entries):
/// never copied, yet they came from the same counter as the copied names, and a copied key's value
/// can name one (a holder, a queue position), so a number handed out again on the target would be
/// taken for the old entry.
@Suite("StoreMigration: sequence numbers of ephemeral keys that are not copied", .serverLoadLimit)
struct MigrationEphemeralSequenceNumberTests {
    static let logger = Logger(label: "test.migration")

    static func key(_ path: String) -> Key { try! Key(path) }

    @Test(
        "a parent whose sequential children are all ephemeral has its counter moved past their numbers: the target never hands one of them out again",
        arguments: TestBackend.all)
    func ephemeralNumbersCarryTheCounter(_ backend: TestBackend) async throws {
        let from = try TestHandles(.memory, test: "ephemeralSequenceNumbers-\(backend.name)")
        let to = try TestHandles(backend, test: "ephemeralSequenceNumbersTarget")
        try await TestHandles.closing(from, to) {
            let source = try await from.open()
            var entries: [Record] = []
            for _ in 0..<5 { entries.append(try await source.create(Self.key("/locks/entry-"), value: [], mode: .ephemeralSequential)) }
            for entry in entries.dropLast() { try await source.delete(entry.key) }
            let live = try #require(StoreMigration.sequenceNumber(entries[4].key.name))
            #expect(live == 4)

            let target = try await to.open()
            let report = try await StoreMigration(source: source, target: target, options: MigrationOptions(), logger: Self.logger).run()
            #expect(report.counts.copied == 1 && report.counts.ephemeral == 1, "/locks copied, its entry not")
            #expect(report.counts.countersChecked == 1 && report.counts.countersLeftBehind == 0)
            let created = try await target.create(Self.key("/locks/entry-"), value: [], mode: .ephemeralSequential)
            let number = try #require(StoreMigration.sequenceNumber(created.key.name))
            #expect(number > live, "\(created.key) after the source's live entry-\(live)")
        }
    }
}
