import Coordination
import CoordinationScheduler
import CoordinationTestSupport
import Foundation
import Testing

/// The listings `coord jobs`, `coord runs` and `coord workers` show set a record that does not
/// decode apart, naming it, and keep the rest; the strict reads still throw, naming it.
@Suite(.serverLoadLimit) struct UnreadableRecordsTests {
    @Test(arguments: SchedulerBackend.all)
    func listingsSetABadRecordApartAndKeepTheRest(backend: SchedulerBackend) async throws {
        let cluster = try TestCluster(backend)
        defer { Task { await cluster.shutdown() } }
        let client = try await cluster.client()
        let store = try await cluster.open()
        let layout = cluster.layout
        let hourly = JobSchedule.every(.seconds(3600), start: nil)
        // "once" gets a pending run from its submission.
        try await client.submit([
            JobSpec(id: "good", handler: "noop", schedule: hourly), JobSpec(id: "bad", handler: "noop", schedule: hourly),
            JobSpec(id: "entry", handler: "noop", schedule: hourly), JobSpec(id: "once", handler: "noop"),
        ])
        let garbage = Array(#"{"not":"a record"}"#.utf8)
        let badJob = try layout.job("bad")
        let badEntry = try layout.history(of: "entry").child("0000000001")
        let badRun = try layout.run("once", "r-unreadable")
        let badWorker = try layout.worker("ghost")
        _ = try await store.set(badJob, value: garbage, ifVersion: nil)
        for key in [badEntry, badRun, badWorker] { _ = try await store.create(key, value: garbage, mode: .persistent) }

        let jobs = try await client.overview()
        #expect(jobs.jobs.map(\.job.spec.id) == ["good"])
        #expect(Set(jobs.unreadable.map(\.key)) == [badJob, badEntry, badRun])
        #expect(jobs.unreadable.allSatisfy { $0.code == .invalidConfiguration })
        await #expect { try await client.jobs() } throws: { ($0 as? CoordinationError)?.key == badJob }

        let once = try await client.runsOverview(of: "once")
        #expect(once.active.map(\.record.status) == [.pending] && once.history.isEmpty)
        #expect(once.unreadable.map(\.key) == [badRun])
        await #expect { try await client.activeRuns(of: "once") } throws: { ($0 as? CoordinationError)?.key == badRun }
        let entry = try await client.runsOverview(of: "entry")
        #expect(entry.active.isEmpty && entry.history.isEmpty && entry.unreadable.map(\.key) == [badEntry])
        await #expect { try await client.history(of: "entry") } throws: { ($0 as? CoordinationError)?.key == badEntry }

        let workers = try await client.workersOverview()
        #expect(workers.workers.isEmpty && workers.activeRuns.count == 1)
        #expect(Set(workers.unreadable.map(\.key)) == [badWorker, badRun])
        await #expect { try await client.workers() } throws: { ($0 as? CoordinationError)?.key == badWorker }
    }
}
