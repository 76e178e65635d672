import Coordination
import CoordinationTestSupport
import Foundation
import Testing

@testable import CoordinationScheduler

/// A writer of a broadcast to more workers than one transaction holds creates the other runs
/// right after its first transaction, for the workers it found eligible for the job it read. A
/// job removed and added again under its id in between is another job, with workers of its own:
/// its broadcast left unfinished by its writer was finished for the old job's workers (none of
/// its own past where it stopped), and those of its workers never got their runs.
@Suite(.serverLoadLimit) struct ReaddedJobBroadcastRemainderTests {
    /// Registers 70 workers (membership entries only) with `handler`, ids `<prefix>000`….
    @discardableResult
    private static func registerWorkers(prefix: String, handler: String, in store: any CoordinationStore, layout: SchedulerLayout)
        async throws -> [String]
    {
        let value = Array(try JSONEncoder().encode(WorkerInfo(capacity: 1, weight: 1, labels: [:], handlers: [handler])))
        var ids: [String] = []
        for index in 0..<70 {
            let id = prefix + RunID.padded(Int64(index), 3)
            _ = try await store.create(try layout.worker(id), value: value, mode: .ephemeral)
            ids.append(id)
        }
        return ids
    }

    /// A trigger's broadcast to the old job's 70 workers; between its first chunk and the rest,
    /// the job is removed and added again as a broadcast to 70 other workers, whose submitter
    /// stopped after its first chunk (its broadcast left for the leader to finish).
    @Test(arguments: SchedulerBackend.all)
    func aBroadcastOfAJobAddedAgainIsNotFinishedForTheOldJobsWorkers(backend: SchedulerBackend) async throws {
        let cluster = try TestCluster(backend)
        defer { Task { await cluster.shutdown() } }
        let layout = cluster.layout
        let plain = try await cluster.client()
        try await Self.registerWorkers(prefix: "a", handler: "old", in: plain.store, layout: layout)
        let newWorkers = try await Self.registerWorkers(prefix: "b", handler: "new", in: plain.store, layout: layout)
        let schedule = JobSchedule.every(.seconds(3600), start: nil)
        try await plain.submit(JobSpec(id: "job", handler: "old", schedule: schedule, placement: .broadcast))
        // One-shot: its submission creates its runs.
        let replacement = JobSpec(id: "job", handler: "new", placement: .broadcast)
        let store = JobReplacedAtItsWriteStore(plain.store, job: try layout.job("job"), moment: .afterAFirstChunk) {
            try await plain.remove("job")
            // A submitter that stopped after its first transaction.
            let submission = try JobSubmission(replacement, now: Date(), workers: newWorkers, layout: layout)
            _ = try await plain.store.transaction(submission.operations)
        }
        let client = Scheduler(store: store, layout: layout, clock: plain.clock)
        try await client.trigger("job")
        #expect(store.replaced, "the job was replaced between the trigger's chunks")

        let stored = try #require(try await plain.job("job"))
        #expect(stored.spec == replacement)
        let runs = try await plain.activeRuns(of: "job")
        let firstChunk = RunPlan.firstChunk(fenced: true)
        #expect(runs.count == firstChunk, "only the new job's first chunk: \(runs.count) runs")
        // Still to be finished (by a leader, for its own workers), rather than ended for workers it has none of.
        #expect(stored.state.unfinishedBroadcasts.map(\.after) == [newWorkers[firstChunk - 1]])
    }
}
