import Coordination
import CoordinationScheduler
import CoordinationTestSupport
import Foundation
import Testing

/// The leader writes a job's whole record (definition and state) from its view, as a
/// compare-and-set at the version it read (``LeaderDuties/requireUnchanged`` reads it just
/// before). A pause landing between that read and the write changes the version only: without
/// the compare-and-set the leader's record was written over it and the job was no longer paused.
@Suite(.serverLoadLimit) struct PauseDuringLeaderWriteTests {
    static let start = Date(timeIntervalSince1970: 1_800_000_000)

    /// A fire time's materialisation: the job ran while paused.
    @Test(arguments: SchedulerBackend.all)
    func aPauseLandingJustBeforeAMaterialisationIsKept(backend: SchedulerBackend) async throws {
        let clock = ManualWallClock(Self.start)
        let cluster = try TestCluster(backend, clock: clock.wallClock)
        defer { Task { await cluster.shutdown() } }
        let layout = cluster.layout
        let client = try await cluster.client()
        let materialised = Signal()
        try await cluster.startWorker("w0", handlers: ["noop": { _ in RunOutput() }]) { base in
            JobReplacedBeforeMaterialisationStore(base, job: try! layout.job("job"), materialised: materialised) {
                try await client.pause("job")
            }
        }
        try await client.submit(JobSpec(id: "job", handler: "noop", schedule: .every(.seconds(60), start: nil)))
        try await withDeadline("the leader's wake for the first fire time") {
            await clock.waitForSleeper(until: Self.start.addingTimeInterval(60))
        }
        clock.advance(by: 60)
        try await withDeadline("the materialisation") { await materialised.wait() }
        let stored = try #require(try await client.job("job"))
        #expect(stored.state.paused, "the pause is kept")
        #expect(stored.state.lastMaterialized == nil, "the fire time waits for the resume")
        #expect(try await client.activeRuns(of: "job").isEmpty, "no run while paused")
        #expect(try await client.history(of: "job").isEmpty, "nothing ran")
    }

    /// A resume's settling (no fire time due yet): the job fired again while paused.
    @Test(arguments: SchedulerBackend.all)
    func aPauseLandingJustBeforeAResumeIsSettledIsKept(backend: SchedulerBackend) async throws {
        let clock = ManualWallClock(Self.start)
        let cluster = try TestCluster(backend, clock: clock.wallClock)
        defer { Task { await cluster.shutdown() } }
        let layout = cluster.layout
        let client = try await cluster.client()
        try await client.submit(JobSpec(id: "job", handler: "noop", schedule: .every(.seconds(60), start: nil)))
        try await client.pause("job")
        try await client.resume("job")
        let settled = Signal()
        try await cluster.startWorker("w0", handlers: ["noop": { _ in RunOutput() }]) { base in
            JobReplacedBeforeASettlingStore(base, job: try! layout.job("job"), settled: settled) {
                try await client.pause("job")
            }
        }
        try await withDeadline("the leader's settling of the resume") { await settled.wait() }
        let stored = try #require(try await client.job("job"))
        #expect(stored.state.paused, "the pause is kept")
    }
}
