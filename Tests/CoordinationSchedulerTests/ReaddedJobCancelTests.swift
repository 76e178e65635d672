import Coordination
import CoordinationTestSupport
import Foundation
import Testing

@testable import CoordinationScheduler

/// A cancel first ends the job's unfinished broadcasts (``Scheduler/endUnfinishedBroadcasts(of:)``)
/// with a compare-and-set of the record read. A job removed and added again under its id in
/// between starts over at the version read: without the incarnation check, the old record
/// (definition, state, tag) was written over the new job.
@Suite(.serverLoadLimit) struct ReaddedJobCancelTests {
    /// Broadcasts to more workers than a transaction holds, whose submitters stop after their
    /// first transaction: each job has an unfinished broadcast, with no leader to finish it.
    @Test(arguments: SchedulerBackend.all)
    func aJobAddedAgainAsItsBroadcastsAreEndedKeepsItsNewDefinition(backend: SchedulerBackend) async throws {
        let cluster = try TestCluster(backend)
        defer { Task { await cluster.shutdown() } }
        let layout = cluster.layout
        let plain = try await cluster.client()
        try await layout.ensureFolders(in: plain.store)
        let workers = (0..<70).map { "w" + RunID.padded(Int64($0), 3) }
        let original = JobSpec(id: "job", handler: "noop", payload: Data("old".utf8), placement: .broadcast)
        let replacement = JobSpec(id: "job", handler: "noop", payload: Data("new".utf8), placement: .broadcast)
        _ = try await plain.store.transaction(try JobSubmission(original, now: Date(), workers: workers, layout: layout).operations)
        let store = JobReplacedAtItsWriteStore(plain.store, job: try layout.job("job")) {
            try await plain.remove("job")
            _ = try await plain.store.transaction(try JobSubmission(replacement, now: Date(), workers: workers, layout: layout).operations)
        }
        let client = Scheduler(store: store, layout: layout, clock: plain.clock)
        try await client.cancel("job")
        #expect(store.replaced, "the job was replaced between the read and the write")
        let stored = try #require(try await plain.job("job"))
        #expect(stored.spec == replacement, "the job added again keeps its definition: \(String(decoding: stored.spec.payload, as: UTF8.self))")
        // Ended for the job there now, as if the cancel had come after the replacement.
        #expect(stored.state.unfinishedBroadcasts.isEmpty)
    }
}
