import Coordination
@testable import CoordinationScheduler
import CoordinationTestSupport
import Foundation
import Testing

/// A job resumed and then removed, the removal stopped right after deleting its incarnation key:
/// the leader settles a resume (``LeaderDuties/settleResume(spec:seen:settled:version:)``) with
/// a write that is refused for ever. It must note the job as being removed from that refusal
/// (``UnfinishedRemovals``), or it tries the write again at every pass. The leader's removal
/// tests had no resume to settle: dropping the note there passed them all (found by the
/// mutation audit of the leader's upkeep).
@Suite(.serverLoadLimit) struct UnfinishedRemovalResumeTests {
    static let start = Date(timeIntervalSince1970: 1_800_000_000)

    @Test(arguments: SchedulerBackend.all)
    func theLeaderStopsSettlingTheResumeOfAJobWhoseRemovalStoppedHalfway(backend: SchedulerBackend) async throws {
        let clock = ManualWallClock(Self.start)
        let cluster = try TestCluster(backend, clock: clock.wallClock)
        defer { Task { await cluster.shutdown() } }
        let layout = cluster.layout
        let client = try await cluster.client()
        // No fire time due for an hour: the resume is settled alone, by a write of the state.
        try await client.submit(JobSpec(id: "halfway", handler: "noop", schedule: .every(.seconds(3600), start: nil)))
        try await client.pause("halfway")
        try await client.resume("halfway")
        let resumed = try #require(try await client.job("halfway"))
        let tag = try #require(resumed.state.incarnation)
        try await client.store.delete(try layout.incarnation(of: "halfway", tag: tag), ifVersion: nil)
        // A job beside it, whose fire times show each of the leader's passes has been made.
        try await client.submit(JobSpec(id: "other", handler: "noop", schedule: .every(.seconds(60), start: nil)))

        let writes = TransactionCount.recordWrites(of: try layout.job("halfway"))
        try await cluster.startWorker("w0", handlers: ["noop": { _ in RunOutput() }]) { writes.counting($0) }
        try await cluster.runFireTimes(of: "other", 1...3, every: 60, from: Self.start, clock: clock)
        #expect(writes.count == 1, "the leader tried to write the job \(writes.count) times; once, refused, is enough to know")
        #expect(try await client.job("halfway") == resumed, "the refused writes changed nothing")
    }
}
