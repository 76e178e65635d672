import Coordination
import CoordinationTestSupport
import Foundation
import Testing

@testable import CoordinationScheduler

/// ``Scheduler/cancel(_:)`` reports what it did to each run (`coord job cancel` prints it): a
/// run it did not remove or ask to stop is in neither list.
@Suite(.serverLoadLimit) struct CancellationReportTests {
    /// A cancel lists a job's runs, then reads each: a run that ended between the two (its worker
    /// finished it) was not removed by the cancel.
    @Test(arguments: SchedulerBackend.all)
    func aRunThatEndedAfterTheListingIsNotReportedRemoved(backend: SchedulerBackend) async throws {
        let cluster = try TestCluster(backend)
        defer { Task { await cluster.shutdown() } }
        let client = try await cluster.client()
        let later = cluster.clock.now().addingTimeInterval(3600)
        try await client.submit(JobSpec(id: "job", handler: "h", schedule: .once(at: later), shards: 2))
        let runs = try await client.activeRuns(of: "job").map(\.record.run).sorted()
        try #require(runs.count == 2)

        let ending = RunEndingAfterListingStore(base: client.store, runs: try cluster.layout.runs(of: "job"), ends: runs[0])
        let cancellation = try await Scheduler(store: ending, layout: cluster.layout, clock: cluster.clock).cancel("job")

        #expect(cancellation.removed == [runs[1]], "only the run the cancel found and deleted")
        #expect(cancellation.askedToStop.isEmpty)
        let history = try await client.history(of: "job")
        #expect(history.map(\.run) == [runs[1]] && history.map(\.outcome) == [.cancelled])
    }

    /// A running run whose worker was asked to stop it already is not asked again: the second
    /// cancel leaves its record (and the first request's reason) as it is, and says so.
    @Test(arguments: SchedulerBackend.all)
    func aRunAskedToStopAlreadyIsNotReportedAskedAgain(backend: SchedulerBackend) async throws {
        let cluster = try TestCluster(backend)
        defer { Task { await cluster.shutdown() } }
        let client = try await cluster.client()
        try await client.submit(JobSpec(id: "job", handler: "h", schedule: .once(at: cluster.clock.now().addingTimeInterval(3600))))
        let run = try #require(try await client.activeRuns(of: "job").first)
        // As its worker's claim and the first cancel left it (no worker here to end it).
        var asked = run.record
        asked.status = .running
        asked.worker = "w0"
        asked.startedAt = cluster.clock.now()
        asked.cancelRequested = true
        asked.cancelReason = "first request"
        let key = try cluster.layout.run("job", run.record.run)
        let written = try await client.store.set(key, value: try SchedulerJSON.encode(asked), ifVersion: run.version)

        let cancellation = try await client.cancel("job")
        #expect(cancellation.askedToStop.isEmpty && cancellation.removed.isEmpty, "\(cancellation)")
        let stored = try #require(try await client.store.get(key))
        #expect(stored.version == written.version, "the record is left as it was")
        #expect(try stored.decoded(RunRecord.self).cancelReason == "first request")
    }
}

/// Deletes run `ends` right after the listing of the job's runs `runs` that returns it, as its
/// worker ending the run at that moment would.
private final class RunEndingAfterListingStore: ForwardingStore {
    let base: any CoordinationStore
    let runs: Key
    let ends: String

    init(base: any CoordinationStore, runs: Key, ends: String) {
        self.base = base
        self.runs = runs
        self.ends = ends
    }

    func children(of key: Key) async throws -> [String] {
        let names = try await base.children(of: key)
        if key == runs, names.contains(ends) { try await base.delete(try key.child(ends), ifVersion: nil, recursive: true) }
        return names
    }
}
