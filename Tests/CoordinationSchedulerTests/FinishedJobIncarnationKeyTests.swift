import Coordination
import CoordinationScheduler
import CoordinationTestSupport
import Foundation
import Testing

/// The finished-job sweep removes a job's incarnation key with its record: kept, one key per
/// one-shot job ever run was left in the incarnations folder for good.
@Suite(.serverLoadLimit) struct FinishedJobIncarnationKeyTests {
    static let start = Date(timeIntervalSince1970: 1_800_000_000)

    @Test(arguments: SchedulerBackend.all)
    func aFinishedJobsIncarnationKeyGoesWithIt(backend: SchedulerBackend) async throws {
        let clock = ManualWallClock(Self.start)
        let cluster = try TestCluster(backend, clock: clock.wallClock)
        defer { Task { await cluster.shutdown() } }
        let layout = cluster.layout
        try await cluster.startWorker("w0", finishedJobRetention: .seconds(4), handlers: ["noop": { _ in RunOutput() }])
        let client = try await cluster.client()
        try await client.submit(JobSpec(id: "job", handler: "noop"))
        let tag = try #require(try await client.job("job")?.state.incarnation)
        let incarnation = try layout.incarnation(of: "job", tag: tag)
        let watcher = try await cluster.open()
        #expect(try await watcher.exists(incarnation))
        _ = try await cluster.waitForHistory("the run", successes("job"))
        // A look at a time (one a second, with a retention of 4 s) until the record is gone: the
        // leader's view may be behind the run's end at a look, and a later one removes it.
        try await withDeadline("the finished job to be removed") {
            while try await watcher.exists(try layout.job("job")) {
                try Task.checkCancellation()
                clock.advance(by: 1)
                await clock.waitForSleeper(until: clock.now.addingTimeInterval(1))
            }
        }
        #expect(try await !watcher.exists(incarnation), "the removed job's incarnation key is left behind")
    }
}
