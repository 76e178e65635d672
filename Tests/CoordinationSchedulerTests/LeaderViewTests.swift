import Coordination
import Foundation
import Logging
import Testing

@testable import CoordinationScheduler

/// The leader acts on a view that trails its own writes: each of its writes must still be right
/// when the view it was decided on is behind.
@Suite(.serverLoadLimit) struct LeaderViewTests {
    static let start = Date(timeIntervalSince1970: 1_800_000_000)

    /// A leader whose view has the run it just materialised but not yet the state that records
    /// it replays the fire time. With the replace policy that replay once cancelled the fire
    /// time's own run, so that fire time never ran (found by a flaky overlap test under CI load).
    @Test(arguments: SchedulerBackend.all)
    func aReplayedFireTimeNeverReplacesItsOwnRun(backend: SchedulerBackend) async throws {
        let clock = ManualWallClock(Self.start)
        let cluster = try TestCluster(backend, clock: clock.wallClock)
        defer { Task { await cluster.shutdown() } }
        let store = try await cluster.open()
        let client = try await cluster.client()
        try await client.submit(
            JobSpec(id: "replace", handler: "h", schedule: .cron(try CronExpression("* * * * * *")), overlap: .replace))
        let stored = try #require(try await store.get(try cluster.layout.job("replace")))
        let job = try stored.decoded(JobRecord.self)
        let (spec, state) = (job.spec, job.state)
        let duties = LeaderDuties(
            store: store, layout: cluster.layout, clock: clock.wallClock, configuration: Worker.Configuration(),
            feed: ViewFeed { _, _ in }, logger: Logger(label: "test.leader"))
        var planner = PlacementState()
        clock.advance(by: 1)
        let fireTime = Self.start.addingTimeInterval(1)
        try await duties.materialise(
            spec: spec, state: state, version: stored.version, latest: fireTime, total: 1, now: clock.now,
            active: [], workers: [:], stable: true, planner: &planner)
        let folder = try cluster.layout.runs(of: "replace")
        let runs = try await store.children(of: folder)
        #expect(runs.count == 1)
        let runKey = try folder.child(try #require(runs.first))
        let run = try #require(try await store.get(runKey))
        let viewRun = ViewRun(key: runKey, record: try run.decoded(RunRecord.self), version: run.version, modRevision: run.modRevision)

        // The replay: the same state version, and now the fire time's own run among the active.
        do {
            try await duties.materialise(
                spec: spec, state: state, version: stored.version, latest: fireTime, total: 1, now: clock.now,
                active: [viewRun], workers: [:], stable: true, planner: &planner)
            Issue.record("a replay with a stale state version was applied")
        } catch let error as CoordinationError {
            #expect(error.code == .versionConflict, "superseded, as the leader expects: \(error)")
        }
        let after = try #require(try await store.get(runKey), "the fire time's run is still there")
        #expect(after.version == run.version)
        #expect(try await client.history(of: "replace").isEmpty, "nothing was cancelled")
    }
}
