import Coordination
import Testing
@testable import CoordinationMigration

/// How ``StoreMigration/batches(_:size:)`` splits a level into transactions: within the
/// portable operation limit whatever size is asked, and a large value spends the byte budget of
/// its own transaction only, not of those after it.
@Suite("StoreMigration.batches: operation and byte limits")
struct MigrationBatchBudgetTests {
    static func record(_ path: String, bytes: Int) -> Record {
        Record(key: try! Key(path), value: Array(repeating: 1, count: bytes), version: 0, createRevision: 1, modRevision: 1, isEphemeral: false)
    }

    @Test("a batch size over the portable limit still gives transactions of at most maxTransactionOperations")
    func sizeCapped() {
        let records = (0..<300).map { Self.record("/k\($0)", bytes: 1) }
        let batches = StoreMigration.batches(records, size: 200)
        #expect(batches.allSatisfy { $0.count <= CoordinationLimits.maxTransactionOperations }, "\(batches.map(\.count))")
        #expect(batches.joined().count == 300)
    }

    @Test("small keys after a large value share transactions again: the byte count starts over with each one")
    func budgetStartsOver() {
        let big = Self.record("/big", bytes: CoordinationLimits.maxTransactionBytes * 3 / 5)
        let small = (0..<100).map { Self.record("/k\($0)", bytes: 10) }
        let batches = StoreMigration.batches([big] + small, size: 64)
        #expect(batches.map(\.count) == [1, 64, 36])
    }
}
