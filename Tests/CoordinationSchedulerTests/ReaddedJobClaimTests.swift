import Coordination
@testable import CoordinationScheduler
import CoordinationTestSupport
import Foundation
import Logging
import Testing

/// A job removed and at once added again under the same id, while a worker's view is still
/// behind the removal. Run ids are deterministic and records start over at the same versions, so
/// the new job's run of the same fire time (or trigger number) had the removed one's id: the
/// stale worker's claim, which checks versions only, took it and ran it with the removed job's
/// definition, writing over the new run's record. Each incarnation's tag in the run ids keeps
/// them apart.
@Suite(.serverLoadLimit) struct ReaddedJobClaimTests {
    /// What a worker's view held of the removed job: its definition, its record's version, its
    /// incarnation's fence and its run.
    struct StaleView {
        let spec: JobSpec
        let recordVersion: Int64
        let incarnation: IncarnationFence
        let run: ViewRun
    }

    /// The job's only run and its record's version, as a view shows them (read from the store).
    static func view(of spec: JobSpec, in store: any CoordinationStore, layout: SchedulerLayout) async throws -> StaleView {
        let record = try #require(try await store.get(try layout.job(spec.id)))
        let names = try await store.children(of: try layout.runs(of: spec.id))
        try #require(names.count == 1, "one run: \(names)")
        let run = try #require(try await store.get(try layout.run(spec.id, names[0])))
        let state = try record.decoded(JobRecord.self).state
        return StaleView(
            spec: spec, recordVersion: record.version, incarnation: try IncarnationFence(job: spec.id, state: state, layout: layout),
            run: ViewRun(key: run.key, record: try run.decoded(RunRecord.self), version: run.version, modRevision: run.modRevision))
    }

    /// The claim a worker makes from `stale`, with a handler that must never run.
    static func claim(from stale: StaleView, store: any CoordinationStore, layout: SchedulerLayout) async throws -> RunExecution.Claim? {
        let execution = RunExecution(
            store: store, layout: layout, worker: "stale", clock: .system, logger: Logger(label: "test.stale"), spec: stale.spec,
            candidate: stale.run, previousToken: nil, handler: { _ in RunOutput() }, historyRoom: nil,
            stateVersion: stale.recordVersion, incarnation: stale.incarnation, commits: nil, registration: 1,
            registrationSession: store.session.sessionID)
        return try await execution.claim(control: RunControl(fence: stale.run.version)).won
    }

    /// Refused, and the new job's runs as they were: pending, unclaimed, at their versions.
    static func expectRefused(
        _ claim: RunExecution.Claim?, newJob: String, before: [Record], store: any CoordinationStore, layout: SchedulerLayout
    ) async throws {
        #expect(claim == nil, "the removed job's run was claimed: \(claim.map { "\($0.record.job)/\($0.record.run)" } ?? "")")
        let folder = try layout.runs(of: newJob)
        var after: [Record] = []
        for name in try await store.children(of: folder) {
            #expect(try await store.get(try layout.claim(newJob, name)) == nil, "no claim on the new run \(name)")
            if let record = try await store.get(try folder.child(name)) { after.append(record) }
        }
        #expect(after.map(\.key) == before.map(\.key))
        #expect(after.map(\.version) == before.map(\.version), "the new run's record is untouched")
        #expect(try after.map { try $0.decoded(RunRecord.self).status } == before.map { _ in .pending })
    }

    static func runs(of job: String, in store: any CoordinationStore, layout: SchedulerLayout) async throws -> [Record] {
        let folder = try layout.runs(of: job)
        var records: [Record] = []
        for name in try await store.children(of: folder) {
            if let record = try await store.get(try folder.child(name)) { records.append(record) }
        }
        return records
    }

    /// A one-shot job re-added with the same time: its run had the removed one's id.
    @Test(arguments: SchedulerBackend.all)
    func aStaleViewCannotClaimTheRunOfAOneShotAddedAgainAtTheSameTime(backend: SchedulerBackend) async throws {
        let cluster = try TestCluster(backend)
        defer { Task { await cluster.shutdown() } }
        let client = try await cluster.client()
        let store = try await cluster.open()
        let layout = cluster.layout
        // Far ahead: no worker here, and none would take it early either.
        let at = Date(timeIntervalSince1970: 4_000_000_000)
        let removed = JobSpec(id: "job", handler: "old", payload: Data("old".utf8), schedule: .once(at: at), timeout: .seconds(1))
        try await client.submit(removed)
        let stale = try await Self.view(of: removed, in: store, layout: layout)

        try await client.remove("job")
        try await client.submit(JobSpec(id: "job", handler: "new", payload: Data("new".utf8), schedule: .once(at: at)))
        let before = try await Self.runs(of: "job", in: store, layout: layout)
        #expect(before.count == 1)

        let claim = try await Self.claim(from: stale, store: store, layout: layout)
        try await Self.expectRefused(claim, newJob: "job", before: before, store: store, layout: layout)
    }

    /// A job re-added and triggered as often: its trigger's run had the removed one's id.
    @Test(arguments: SchedulerBackend.all)
    func aStaleViewCannotClaimTheRunOfATriggerOfTheSameNumberAfterTheJobWasAddedAgain(backend: SchedulerBackend) async throws {
        let cluster = try TestCluster(backend)
        defer { Task { await cluster.shutdown() } }
        let client = try await cluster.client()
        let store = try await cluster.open()
        let layout = cluster.layout
        let yearly = JobSchedule.cron(try CronExpression("0 0 0 1 1 *"))
        let removed = JobSpec(id: "job", handler: "old", schedule: yearly)
        try await client.submit(removed)
        try await client.trigger("job")
        let stale = try await Self.view(of: removed, in: store, layout: layout)

        try await client.remove("job")
        try await client.submit(JobSpec(id: "job", handler: "new", schedule: yearly))
        try await client.trigger("job")
        let before = try await Self.runs(of: "job", in: store, layout: layout)
        #expect(before.count == 1)

        let claim = try await Self.claim(from: stale, store: store, layout: layout)
        try await Self.expectRefused(claim, newJob: "job", before: before, store: store, layout: layout)
    }

    /// A job whose record has no incarnation (added by an earlier version) keeps its run ids,
    /// so no fire time or trigger of it is created twice across an upgrade.
    @Test func aJobAddedByAnEarlierVersionKeepsItsRunIds() async throws {
        let cluster = try TestCluster(.memory)
        defer { Task { await cluster.shutdown() } }
        let client = try await cluster.client()
        let store = try await cluster.open()
        try await cluster.layout.ensureFolders(in: store)
        let spec = JobSpec(id: "old", handler: "h", schedule: .cron(try CronExpression("0 0 0 1 1 *")))
        // The record as an earlier version wrote it: no `incarnation` field.
        let written = try JobRecord(spec: spec, state: JobState(submittedAt: Date(timeIntervalSince1970: 1))).encoded()
        #expect(!String(decoding: written, as: UTF8.self).contains("incarnation"))
        _ = try await store.create(try cluster.layout.job("old"), value: written, mode: .persistent)
        _ = try await store.create(try cluster.layout.history(of: "old"), value: [], mode: .persistent)
        #expect(try await client.job("old")?.state.incarnation == nil)
        #expect(try await client.trigger("old") == ["t-0000000001-000"])
    }

    /// Each job added gets a tag, in every run id of its; added again, another one.
    @Test func runIdsCarryTheJobsIncarnation() async throws {
        let cluster = try TestCluster(.memory)
        defer { Task { await cluster.shutdown() } }
        let client = try await cluster.client()
        let at = Date(timeIntervalSince1970: 10)
        try await client.submit(JobSpec(id: "job", handler: "h", schedule: .once(at: at), shards: 2))
        let first = try #require(try await client.job("job")?.state.incarnation)
        #expect(first.count == JobIncarnation.length && first.allSatisfy { JobIncarnation.alphabet.contains($0) })
        #expect(
            try await client.activeRuns(of: "job").map(\.record.run).sorted()
                == ["r-0000000000010000-000-\(first)", "r-0000000000010000-001-\(first)"])
        try await client.remove("job")
        try await client.submit(JobSpec(id: "job", handler: "h", schedule: .once(at: at), shards: 2))
        let second = try #require(try await client.job("job")?.state.incarnation)
        #expect(second != first)
        #expect(RunID.scheduled(at: at, item: 0, incarnation: second, worker: "w1") == "r-0000000000010000-000-\(second)-w1")
    }

    @Test func aRunOfAnotherIncarnationIsNotTakenForTheJobsRecordsOwn() {
        #expect(RunID.belongs("r-0000000000010000-000-k3x9qa", toIncarnation: "k3x9qa"))
        #expect(RunID.belongs("t-0000000001-002-k3x9qa-w-1", toIncarnation: "k3x9qa"))
        #expect(!RunID.belongs("r-0000000000010000-000-k3x9qb", toIncarnation: "k3x9qa"))
        #expect(!RunID.belongs("t-0000000001-000-k3x9qb-k3x9qa", toIncarnation: "k3x9qa"))
        #expect(!RunID.belongs("r-0000000000010000-000", toIncarnation: "k3x9qa"))
        // A job added by an earlier version: its ids cannot be told from a broadcast's.
        #expect(RunID.belongs("r-0000000000010000-000-w1", toIncarnation: nil))
    }
}
