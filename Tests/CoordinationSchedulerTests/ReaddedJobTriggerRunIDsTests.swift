import Coordination
import CoordinationTestSupport
import Foundation
import Testing

@testable import CoordinationScheduler

/// A trigger of a broadcast to more workers than one transaction holds returned every run id it
/// meant to create, even when the job was removed and added again between its first chunk and
/// the rest: the rest were never created, and the first went with the removed job. It returns
/// only ids of runs made for the job there now.
@Suite(.serverLoadLimit) struct ReaddedJobTriggerRunIDsTests {
    @Test(arguments: SchedulerBackend.all)
    func aTriggerOfAJobAddedAgainBetweenItsChunksReturnsNoRunOfTheOldJob(backend: SchedulerBackend) async throws {
        let cluster = try TestCluster(backend)
        defer { Task { await cluster.shutdown() } }
        let layout = cluster.layout
        let plain = try await cluster.client()
        // 70 members (their entries only, so the runs stay pending): more than one transaction holds.
        let value = Array(try JSONEncoder().encode(WorkerInfo(capacity: 1, weight: 1, labels: [:], handlers: ["noop"])))
        for index in 0..<70 {
            _ = try await plain.store.create(try layout.worker("w" + RunID.padded(Int64(index), 3)), value: value, mode: .ephemeral)
        }
        let schedule = JobSchedule.every(.seconds(3600), start: nil)
        try await plain.submit(JobSpec(id: "job", handler: "noop", schedule: schedule, placement: .broadcast))
        try await plain.submit(JobSpec(id: "kept", handler: "noop", schedule: schedule, placement: .broadcast))
        let store = JobReplacedAtItsWriteStore(plain.store, job: try layout.job("job"), moment: .afterAFirstChunk) {
            try await plain.remove("job")
            // One-shot: its submission makes its own runs, which the trigger's ids are not.
            try await plain.submit(JobSpec(id: "job", handler: "noop", placement: .broadcast))
        }
        let client = Scheduler(store: store, layout: layout, clock: plain.clock)

        let ids = try await client.trigger("job")
        #expect(store.replaced, "the job was replaced between the trigger's chunks")
        let existing = Set(try await plain.activeRuns(of: "job").map(\.record.run))
        #expect(existing.count == 70, "the new job's own runs")
        let unmade = Set(ids).subtracting(existing)
        #expect(unmade.count == 0, "ids of runs that are not the job's: \(unmade.sorted().prefix(3))…")

        // Not replaced, every run of the trigger is made and returned.
        let keptIDs = try await client.trigger("kept")
        #expect(keptIDs.count == 70)
        #expect(Set(keptIDs) == Set(try await plain.activeRuns(of: "kept").map(\.record.run)))
    }
}
