import Coordination
import CoordinationTestSupport
import Foundation
import Testing

@testable import CoordinationScheduler

/// A broadcast's submission creates every worker's run before it returns, also when exactly one
/// run does not fit the first transaction: the rest is the submitter's to create, not left for a
/// leader that may not be there.
@Suite(.serverLoadLimit) struct BroadcastOneOverTheChunkTests {
    @Test(arguments: SchedulerBackend.all)
    func aBroadcastToOneWorkerMoreThanTheFirstTransactionHoldsCreatesEveryRun(backend: SchedulerBackend) async throws {
        let cluster = try TestCluster(backend)
        defer { Task { await cluster.shutdown() } }
        let count = RunPlan.firstChunk(fenced: true) + 1
        // Membership entries only: nobody runs anything here, and no leader finishes the broadcast.
        let members = try await cluster.open()
        let info = try JSONEncoder().encode(WorkerInfo(capacity: 1, weight: 1, labels: [:], handlers: ["all"]))
        for index in 0..<count {
            _ = try await members.create(try cluster.layout.worker("w\(index)"), value: Array(info), mode: .ephemeral)
        }
        let client = try await cluster.client()
        try await client.submit(JobSpec(id: "everyone", handler: "all", placement: .broadcast))
        #expect(try await client.activeRuns(of: "everyone").count == count)
        #expect(try await client.job("everyone")?.state.unfinishedBroadcasts == [])
    }
}
