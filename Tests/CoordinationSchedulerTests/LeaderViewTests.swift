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

    /// A leader whose view has the state a materialisation wrote but not yet the runs it created
    /// (an event batch can end between two events of one transaction) saw no active run. The
    /// next fire time of a `skip` job then queued behind that run instead of being skipped, and
    /// one of a `replace` job left it running (found by a flaky metrics test under load).
    @Test(arguments: SchedulerBackend.all)
    func aRunTheViewHasNotHadYetIsSkippedForOrReplaced(backend: SchedulerBackend) async throws {
        let clock = ManualWallClock(Self.start)
        let cluster = try TestCluster(backend, clock: clock.wallClock)
        defer { Task { await cluster.shutdown() } }
        let store = try await cluster.open()
        let client = try await cluster.client()
        let duties = LeaderDuties(
            store: store, layout: cluster.layout, clock: clock.wallClock, configuration: Worker.Configuration(),
            feed: ViewFeed { _, _ in }, logger: Logger(label: "test.leader"))
        var planner = PlacementState()
        let everySecond = try CronExpression("* * * * * *")
        for policy in [OverlapPolicy.skip, .replace] {
            let id = "\(policy)"
            try await client.submit(JobSpec(id: id, handler: "h", schedule: .cron(everySecond), overlap: policy))
        }
        clock.advance(by: 1)
        for id in ["skip", "replace"] {
            let submitted = try #require(try await store.get(try cluster.layout.job(id)))
            let record = try submitted.decoded(JobRecord.self)
            try await duties.materialise(
                spec: record.spec, state: record.state, version: submitted.version, latest: Self.start.addingTimeInterval(1),
                total: 1, now: clock.now, active: [], workers: [:], stable: true, planner: &planner)
        }
        clock.advance(by: 1)
        let second = Self.start.addingTimeInterval(2)
        for id in ["skip", "replace"] {
            // The view: the state the first fire time wrote, without its run.
            let current = try #require(try await store.get(try cluster.layout.job(id)))
            let record = try current.decoded(JobRecord.self)
            do {
                try await duties.materialise(
                    spec: record.spec, state: record.state, version: current.version, latest: second, total: 1, now: clock.now,
                    active: [], workers: [:], stable: true, planner: &planner)
                Issue.record("\(id): the fire time was materialised beside a run the view had not had")
            } catch let error as CoordinationError {
                #expect(error.code == .versionConflict, "\(id): refused as a view behind the store: \(error)")
            }
            let firstRun = RunID.scheduled(at: Self.start.addingTimeInterval(1), item: 0, incarnation: record.state.incarnation)
            #expect(try await store.children(of: try cluster.layout.runs(of: id)) == [firstRun], "\(id): only the first fire time's run")
            #expect(try await client.history(of: id).isEmpty, "\(id): nothing recorded")

            // Once the view has the run, the policy applies.
            let runKey = try cluster.layout.run(id, firstRun)
            let run = try #require(try await store.get(runKey))
            let seen = ViewRun(key: runKey, record: try run.decoded(RunRecord.self), version: run.version, modRevision: run.modRevision)
            try await duties.materialise(
                spec: record.spec, state: record.state, version: current.version, latest: second, total: 1, now: clock.now,
                active: [seen], workers: [:], stable: true, planner: &planner)
        }
        #expect(try await client.history(of: "skip").map(\.outcome) == [.skipped])
        #expect(try await client.history(of: "replace").map(\.outcome) == [.cancelled])
        let replaced = try await client.job("replace")?.state.incarnation
        #expect(try await store.children(of: try cluster.layout.runs(of: "replace")) == [RunID.scheduled(at: second, item: 0, incarnation: replaced)])
    }

    /// A run ends just before the next fire time, and the leader's view has not had its deletion
    /// yet. With overlap `skip` the leader recorded that fire time as skipped ("a previous run is
    /// still active") though nothing was: the fire time was lost.
    @Test(arguments: SchedulerBackend.all)
    func aRunThatEndedUnseenDoesNotMakeTheNextFireTimeSkip(backend: SchedulerBackend) async throws {
        let clock = ManualWallClock(Self.start)
        let cluster = try TestCluster(backend, clock: clock.wallClock)
        defer { Task { await cluster.shutdown() } }
        let store = try await cluster.open()
        let client = try await cluster.client()
        try await client.submit(JobSpec(id: "skip", handler: "h", schedule: .cron(try CronExpression("* * * * * *")), overlap: .skip))
        let jobKey = try cluster.layout.job("skip")
        let submitted = try #require(try await store.get(jobKey))
        let spec = try submitted.decoded(JobRecord.self).spec
        let duties = LeaderDuties(
            store: store, layout: cluster.layout, clock: clock.wallClock, configuration: Worker.Configuration(),
            feed: ViewFeed { _, _ in }, logger: Logger(label: "test.leader"))
        var planner = PlacementState()
        clock.advance(by: 1)
        try await duties.materialise(
            spec: spec, state: try submitted.decoded(JobRecord.self).state, version: submitted.version,
            latest: Self.start.addingTimeInterval(1), total: 1, now: clock.now, active: [], workers: [:], stable: true,
            planner: &planner)
        let folder = try cluster.layout.runs(of: "skip")
        let runKey = try folder.child(try #require(try await store.children(of: folder).first))
        let run = try #require(try await store.get(runKey))
        let seen = ViewRun(key: runKey, record: try run.decoded(RunRecord.self), version: run.version, modRevision: run.modRevision)

        // The run ends (its worker deletes it); the view still shows it when the next fire time is due.
        try await store.delete(runKey)
        let current = try #require(try await store.get(jobKey))
        let state = try current.decoded(JobRecord.self).state
        clock.advance(by: 1)
        let second = Self.start.addingTimeInterval(2)
        do {
            try await duties.materialise(
                spec: spec, state: state, version: current.version, latest: second, total: 1, now: clock.now, active: [seen],
                workers: [:], stable: true, planner: &planner)
        } catch let error as CoordinationError {
            // Superseded is fine: the leader tries again once its view has caught up.
            #expect(error.code == .noNode, "refused as a view behind the store: \(error)")
        }
        #expect(try await client.history(of: "skip").filter { $0.outcome == .skipped }.isEmpty, "nothing was active to skip for")
        let after = try #require(try await store.get(jobKey)).decoded(JobRecord.self).state
        let runs = try await store.children(of: folder)
        #expect(
            runs == [RunID.scheduled(at: second, item: 0, incarnation: state.incarnation)] || (runs.isEmpty && after.lastMaterialized == state.lastMaterialized),
            "the fire time ran, or is still to be materialised")
    }

    /// A job removed and submitted again under the same id and definition starts at the same
    /// version. A leader whose view still had the first one wrote that one's state over the new
    /// one's: its submission time (a fixed rate's anchor, so every later fire time moved) and a
    /// fire time from before the new job was submitted.
    @Test(arguments: SchedulerBackend.all)
    func aViewOfAnEarlierJobOfTheSameIdNeverWritesItsState(backend: SchedulerBackend) async throws {
        let clock = ManualWallClock(Self.start)
        let cluster = try TestCluster(backend, clock: clock.wallClock)
        defer { Task { await cluster.shutdown() } }
        let store = try await cluster.open()
        let client = try await cluster.client()
        let spec = JobSpec(id: "rate", handler: "h", schedule: .every(.seconds(10), start: nil))
        try await client.submit(spec)
        let jobKey = try cluster.layout.job("rate")
        let first = try #require(try await store.get(jobKey))
        let seen = try first.decoded(JobRecord.self)

        clock.advance(by: 5)
        try await client.remove("rate")
        try await client.submit(spec)
        let second = try #require(try await store.get(jobKey))
        #expect(second.version == first.version)
        clock.advance(by: 5)
        let duties = LeaderDuties(
            store: store, layout: cluster.layout, clock: clock.wallClock, configuration: Worker.Configuration(),
            feed: ViewFeed { _, _ in }, logger: Logger(label: "test.leader"))
        var planner = PlacementState()
        // The view's first job has a fire time due now (+10); the new job's first is at +15.
        do {
            try await duties.materialise(
                spec: seen.spec, state: seen.state, version: first.version, latest: Self.start.addingTimeInterval(10), total: 1,
                now: clock.now, active: [], workers: [:], stable: true, planner: &planner)
            Issue.record("the earlier job's state was written over the new job's")
        } catch let error as CoordinationError {
            #expect(error.code == .versionConflict, "superseded, as the leader expects: \(error)")
        }
        let state = try #require(try await store.get(jobKey)).decoded(JobRecord.self).state
        #expect(state.submittedAt == Self.start.addingTimeInterval(5))
        #expect(state.lastMaterialized == nil)
        #expect(try await client.activeRuns(of: "rate").isEmpty)
    }
}
