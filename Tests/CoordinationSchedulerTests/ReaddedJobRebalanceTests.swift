import Coordination
import CoordinationScheduler
import CoordinationTestSupport
import Foundation
import Testing

/// The leader rebalances a sharded job's items (``LeaderDuties/planPendingRuns``) by a
/// compare-and-set of the record its view holds. A job removed and added again under its id in
/// between starts over at that version: without the incarnation check, the old record
/// (definition, state, tag) was written over the new job.
@Suite(.serverLoadLimit) struct ReaddedJobRebalanceTests {
    static let start = Date(timeIntervalSince1970: 1_800_000_000)

    @Test(arguments: SchedulerBackend.all)
    func aJobAddedAgainAsItsItemsAreRebalancedKeepsItsNewDefinition(backend: SchedulerBackend) async throws {
        let clock = ManualWallClock(Self.start)
        let cluster = try TestCluster(backend, clock: clock.wallClock)
        defer { Task { await cluster.shutdown() } }
        let layout = cluster.layout
        let client = try await cluster.client()
        // No fire time due for an hour: the leader's first write of it is the items' first
        // assignment, made at once with membership taken as settled.
        let original = JobSpec(
            id: "job", handler: "item", payload: Data("old".utf8), schedule: .every(.seconds(3600), start: nil), shards: 4,
            placement: .roundRobin)
        let replacement = JobSpec(id: "job", handler: "item", payload: Data("new".utf8), schedule: .every(.seconds(3600), start: nil))
        try await client.submit(original)
        let rebalanced = Signal()
        try await cluster.startWorker("w0", stabilisation: .zero, handlers: ["item": { _ in RunOutput() }]) { base in
            JobReplacedBeforeASettlingStore(base, job: try! layout.job("job"), settled: rebalanced) {
                try await client.remove("job")
                try await client.submit(replacement)
            }
        }
        try await withDeadline("the leader's rebalance") { await rebalanced.wait() }
        let stored = try #require(try await client.job("job"))
        #expect(stored.spec == replacement, "the job added again keeps its definition: \(String(decoding: stored.spec.payload, as: UTF8.self))")
        #expect(stored.state.itemAssignment.isEmpty)
    }
}
