import Coordination
@testable import CoordinationScheduler
import CoordinationTestSupport
import Foundation
import Testing

/// A fire time of a job with overlap `replace` cancels the job's active run before the new run is
/// written, and only while the job's record is as the leader read it: the cancel checks the
/// record's version too. A pause landing between the leader's read and the cancel then refuses
/// the cancel along with the fire time. Without that check (a mutant that survived the scheduler
/// suite), the run was cancelled "replaced by the fire time" and the fire time refused after it:
/// the job lost its running run and got none in its place.
@Suite(.serverLoadLimit) struct PauseDuringReplaceCancelTests {
    static let start = Date(timeIntervalSince1970: 1_800_000_000)

    /// Whether `operations` ask a run of `job` to stop: the cancel of a running run.
    static func asksARunToStop(of job: String, layout: SchedulerLayout) -> @Sendable ([Coordination.Operation]) -> Bool {
        { operations in
            guard case .set(let key, let value, _)? = operations.first, let folder = try? layout.runs(of: job), key.isUnder(folder),
                let run = try? SchedulerJSON.decode(RunRecord.self, from: value, key: key)
            else { return false }
            return run.cancelRequested
        }
    }

    @Test(arguments: SchedulerBackend.all)
    func aPauseLandingJustBeforeAReplaceCancelsKeepsTheRunningRun(backend: SchedulerBackend) async throws {
        let clock = ManualWallClock(Self.start)
        let cluster = try TestCluster(backend, clock: clock.wallClock)
        defer { Task { await cluster.shutdown() } }
        let layout = cluster.layout
        let client = try await cluster.client()
        let started = Signal()
        let cancelled = Shared(false)
        let release = Signal()
        let handler: JobHandler = { context in
            started.fire()
            await withTaskCancellationHandler {
                await release.wait()
            } onCancel: {
                cancelled.withLock { $0 = true }
                release.fire()
            }
            return RunOutput()
        }
        let cancels = TransactionCount(where: Self.asksARunToStop(of: "job", layout: layout))
        try await cluster.startWorker("w0", handlers: ["hold": handler], clock: clock.wallClock) { base in
            cancels.counting(
                InterposedTransaction(base, .before, when: Self.asksARunToStop(of: "job", layout: layout)) {
                    try await client.pause("job")
                })
        }
        try await client.submit(JobSpec(id: "job", handler: "hold", schedule: .every(.seconds(60), start: nil), overlap: .replace))
        try await withDeadline("the leader's wake for the first fire time") {
            await clock.waitForSleeper(until: Self.start.addingTimeInterval(60))
        }
        clock.advance(by: 60)
        try await withDeadline("the first fire time's run") { await started.wait() }
        let running = try #require(try await client.activeRuns(of: "job").first)
        try await withDeadline("the leader's wake for the second fire time") {
            await clock.waitForSleeper(until: Self.start.addingTimeInterval(120))
        }
        clock.advance(by: 60)
        try await withDeadline("the replace's cancel of the running run") { await cancels.answered.wait() }

        let job = try #require(try await client.job("job"))
        #expect(job.state.paused, "the pause is kept")
        #expect(job.state.lastMaterialized == Self.start.addingTimeInterval(60), "the second fire time waits for the resume")
        let runs = try await client.activeRuns(of: "job")
        #expect(runs.map(\.record.run) == [running.record.run], "the running run is still the job's only one")
        #expect(runs.first?.record.cancelRequested == false, "the running run was asked to stop for a fire time refused")
        #expect(!cancelled.value)
        release.fire()
        let history = try await cluster.waitForHistory("the first fire time's run to end") { !$0.isEmpty }
        #expect(history.map(\.outcome) == [.succeeded])
    }
}
