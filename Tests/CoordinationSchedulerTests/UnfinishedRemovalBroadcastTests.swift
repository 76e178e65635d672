import Coordination
@testable import CoordinationScheduler
import CoordinationTestSupport
import Foundation
import Testing

/// A broadcast left unfinished by its writer, of a job whose removal then stopped right after
/// deleting its incarnation key: every write of the record is refused. The leader learns of it
/// from ``RunPlan/continueBroadcasts(of:incarnation:workers:in:layout:)`` (``BroadcastContinuation/jobRemoved(being:)``)
/// and must note it (``UnfinishedRemovals``), or it tries the refused write again at every pass.
/// The leader's removal tests had no unfinished broadcast: dropping the note there passed them
/// all (found by the mutation audit of the leader's upkeep).
@Suite(.serverLoadLimit) struct UnfinishedRemovalBroadcastTests {
    static let start = Date(timeIntervalSince1970: 1_800_000_000)

    @Test(arguments: SchedulerBackend.all)
    func theLeaderStopsFinishingTheBroadcastOfAJobWhoseRemovalStoppedHalfway(backend: SchedulerBackend) async throws {
        let clock = ManualWallClock(Self.start)
        let cluster = try TestCluster(backend, clock: clock.wallClock)
        defer { Task { await cluster.shutdown() } }
        let layout = cluster.layout
        let client = try await cluster.client()
        // One-shot, so that only the leader's finishing of broadcasts writes it (no fire times).
        try await client.submit(JobSpec(id: "halfway", handler: "noop", placement: .broadcast))
        let jobKey = try layout.job("halfway")
        var record = try #require(try await client.job("halfway"))
        let tag = try #require(record.state.incarnation)
        // Its writer stopped after the runs up to worker "a": the rest (w0's) are the leader's to create.
        record.state.unfinishedBroadcasts = [
            UnfinishedBroadcast(run: RunID.triggered(number: 1, item: 0, incarnation: tag), scheduledAt: Self.start, after: "a")
        ]
        _ = try await client.store.set(jobKey, value: try record.encoded(), ifVersion: nil)
        try await client.store.delete(try layout.incarnation(of: "halfway", tag: tag), ifVersion: nil)
        // A job beside it, whose fire times show each of the leader's passes has been made.
        try await client.submit(JobSpec(id: "other", handler: "noop", schedule: .every(.seconds(60), start: nil)))

        let writes = TransactionCount.recordWrites(of: jobKey)
        try await cluster.startWorker("w0", handlers: ["noop": { _ in RunOutput() }]) { writes.counting($0) }
        try await cluster.runFireTimes(of: "other", 1...3, every: 60, from: Self.start, clock: clock)
        #expect(writes.count == 1, "the leader tried to write the job \(writes.count) times; once, refused, is enough to know")
        #expect(try await client.activeRuns(of: "halfway").isEmpty)
        #expect(try await client.isBeingRemoved(try #require(try await client.job("halfway"))))
    }
}
