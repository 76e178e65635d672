import Coordination
@testable import CoordinationScheduler
import CoordinationTestSupport
import Foundation
import Synchronization
import Testing

/// A removal that stopped right after deleting the job's incarnation key leaves a record whose
/// every write is refused (``IncarnationFence``). The leader tried to materialise its fire time
/// at every change it saw, for ever: now it notes the job as being removed at the first refusal
/// and leaves it alone (``UnfinishedRemovals``), and a listing says its removal is unfinished.
@Suite(.serverLoadLimit) struct UnfinishedRemovalLeaderTests {
    static let start = Date(timeIntervalSince1970: 1_800_000_000)

    @Test(arguments: SchedulerBackend.all)
    func theLeaderStopsWritingAJobWhoseRemovalStoppedHalfway(backend: SchedulerBackend) async throws {
        let (clock, cluster, client) = try await TestCluster.besideAnEveryMinuteJob(
            backend, start: Self.start, JobSpec(id: "halfway", handler: "noop", schedule: TestCluster.everyMinute))
        defer { Task { await cluster.shutdown() } }
        let layout = cluster.layout
        let tag = try #require(try await client.job("halfway")?.state.incarnation)
        try await client.store.delete(try layout.incarnation(of: "halfway", tag: tag), ifVersion: nil)
        let writes = TransactionCount.recordWrites(of: try layout.job("halfway"))
        try await cluster.startWorker("w0", handlers: ["noop": { _ in RunOutput() }]) { writes.counting($0) }
        try await cluster.runFireTimes(of: "other", 1...4, every: 60, from: Self.start, clock: clock)
        #expect(writes.count == 1, "the leader tried to write the job \(writes.count) times; once, refused, is enough to know")
        let job = try #require(try await client.job("halfway"))
        #expect(job.state.lastMaterialized == nil)
        #expect(try await client.isBeingRemoved(job))
        let overview = try await client.overview().jobs
        #expect(overview.map { "\($0.job.spec.id) \($0.beingRemoved)" } == ["halfway true", "other false"])
        try await client.remove("halfway")
        #expect(try await client.job("halfway") == nil)
    }
}

extension TestCluster {
    static let everyMinute = JobSchedule.every(.seconds(60), start: nil)

    /// A cluster on a manual clock at `start`, with `job` submitted and a job `other` firing
    /// ``everyMinute`` beside it, whose fire times show each of the leader's passes has been made
    /// (``runFireTimes(of:_:every:from:clock:)``).
    static func besideAnEveryMinuteJob(
        _ backend: SchedulerBackend, start: Date, _ job: JobSpec
    ) async throws -> (ManualWallClock, TestCluster, Scheduler) {
        let clock = ManualWallClock(start)
        let cluster = try TestCluster(backend, clock: clock.wallClock)
        let client = try await cluster.client()
        try await client.submit(job)
        try await client.submit(JobSpec(id: "other", handler: "noop", schedule: everyMinute))
        return (clock, cluster, client)
    }

    /// Runs the fire times `numbers` of `job` (an `every` job of `interval` seconds submitted at
    /// `start` on `clock`), each once the leader sleeps until it. The leader makes its passes one
    /// after another: once a fire time of `job` has run, the passes before it are over.
    func runFireTimes(
        of job: String, _ numbers: ClosedRange<Int>, every interval: TimeInterval, from start: Date, clock: ManualWallClock
    ) async throws {
        for fireTime in numbers {
            try await withDeadline("the leader's wake for fire time \(fireTime) of \(job)") {
                await clock.waitForSleeper(until: start.addingTimeInterval(interval * Double(fireTime)))
            }
            clock.advance(by: interval)
            _ = try await waitForHistory("fire time \(fireTime) of \(job)", successes(job, fireTime))
        }
    }
}
