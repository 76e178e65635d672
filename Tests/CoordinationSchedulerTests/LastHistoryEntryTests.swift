import Coordination
import CoordinationTestSupport
import Foundation
import Testing

@testable import CoordinationScheduler

/// ``Scheduler/lastHistoryEntry(of:)`` (what `coord jobs` shows as a job's last outcome) reads the
/// newest entry, the one ``Scheduler/history(of:)`` lists last, not the oldest.
@Suite(.serverLoadLimit) struct LastHistoryEntryTests {
    @Test(arguments: SchedulerBackend.all)
    func theLastEntryIsTheNewest(backend: SchedulerBackend) async throws {
        let cluster = try TestCluster(backend)
        defer { Task { await cluster.shutdown() } }
        let client = try await cluster.client()
        let writer = HistoryWriter(store: client.store, layout: cluster.layout)
        try await client.submit(JobSpec(id: "job", handler: "h", schedule: .every(.seconds(3600), start: nil)))
        let finished = cluster.clock.now()
        for (index, outcome) in [HistoryEntry.Outcome.failed, .succeeded, .timedOut].enumerated() {
            let entry = HistoryEntry(
                job: "job", run: "r\(index)", attempt: 1, finishedAt: finished.addingTimeInterval(Double(index)), outcome: outcome)
            try await writer.transact(job: "job", entries: [entry]) { [] }
        }

        let history = try await client.history(of: "job")
        #expect(history.map(\.run) == ["r0", "r1", "r2"], "oldest first")
        #expect(try await client.lastHistoryEntry(of: "job")?.run == "r2")
        #expect(try await client.overview().map { $0.last?.outcome } == [.timedOut])
    }
}
