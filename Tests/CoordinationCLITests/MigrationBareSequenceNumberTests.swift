import Coordination
import CoordinationTestSupport
import Foundation
import Logging
import Testing
@testable import CoordinationMigration

/// Names that are a sequence number alone (`0000000042`): what ZooKeeper's `create -s /q/` makes,
/// from zkCli or any client that gives no name prefix.
@Suite("StoreMigration: sequence numbers without a name prefix", .serverLoadLimit)
struct MigrationBareSequenceNumberTests {
    static let logger = Logger(label: "test.migration")

    static func key(_ path: String) -> Key { try! Key(path) }

    /// Copied into a parent that holds fewer children than the highest number, such names left the
    /// counter behind: on ZooKeeper the target's `create -s /q/` would make `0000000002`, and
    /// later `0000000040`, which exists (nodeExists, on a sequential create).
    @Test(
        "a name that is ten digits alone moves its parent's counter: a sequential key created on the target afterwards is numbered past it",
        arguments: TestBackend.all)
    func bareNumbersCarryTheCounter(_ backend: TestBackend) async throws {
        let from = try TestHandles(.memory, test: "bareSequenceNumbers-\(backend.name)")
        let to = try TestHandles(backend, test: "bareSequenceNumbersTarget")
        try await TestHandles.closing(from, to) {
            let source = try await from.open()
            for name in ["0000000040", "0000000042"] { _ = try await source.create(Self.key("/q/" + name), value: [1]) }
            let target = try await to.open()
            let report = try await StoreMigration(source: source, target: target, options: MigrationOptions(), logger: Self.logger).run()
            #expect(report.counts.copied == 3)
            #expect(report.counts.countersChecked == 1 && report.counts.countersLeftBehind == 0)
            let created = try await target.create(Self.key("/q/n-"), value: [], mode: .sequential)
            let number = try #require(StoreMigration.sequenceNumber(created.key.name))
            #expect(number > 42, "\(created.key)")
        }
    }
}
