import Coordination
import CoordinationTestSupport
import Foundation
import Testing

@testable import CoordinationScheduler

/// The history writer's trimming, which rides in transactions other writes have already filled,
/// on every backend.
@Suite(.serverLoadLimit) struct HistoryWriterTests {
    /// A fire time of a job with the most items sets the state and creates every run, and may add
    /// a history entry beside them: with the history full, trimming must leave the transaction
    /// within the contract's limit (and trim later, when a write has room).
    @Test(arguments: TestBackend.all)
    func trimmingNeverTakesATransactionPastTheLimit(backend: TestBackend) async throws {
        try backend.require()
        let store = try await backend.open(try Key("/history-writer-\(UInt32.random(in: 0...UInt32.max))"), .seconds(10))
        defer { Task { await backend.discard(store) } }
        let layout = SchedulerLayout(historyLimit: 3)
        try await layout.ensureFolders(in: store)
        let folder = try layout.history(of: "j")
        _ = try await store.create(folder, value: [], mode: .persistent)
        let writer = HistoryWriter(store: store, layout: layout)
        func entry(_ message: String) -> HistoryEntry {
            HistoryEntry(job: "j", scheduledAt: .now, finishedAt: .now, outcome: .skipped, message: message)
        }
        for index in 0..<3 { try await writer.transact(job: "j", entries: [entry("old \(index)")]) { [] } }

        // The state and the runs: one operation short of the limit, with the entry making it full.
        let filler = try (0..<(CoordinationLimits.maxTransactionOperations - 1)).map {
            Coordination.Operation.create(try Key("/run-\($0)"), value: [], mode: .persistent)
        }
        try await writer.transact(job: "j", entries: [entry("new")]) { filler }
        #expect(try await store.children(of: folder).count == 4, "no room to trim: one entry over the bound for now")

        // The next write with room trims back to the bound.
        try await writer.transact(job: "j", entries: [entry("newer")]) { [] }
        #expect(try await store.children(of: folder).count == 3)
    }
}
