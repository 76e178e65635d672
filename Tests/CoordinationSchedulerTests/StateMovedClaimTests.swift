import Coordination
import CoordinationScheduler
import CoordinationTestSupport
import Testing

/// A claim refused by its job's state check, when the worker has already handled the state's
/// change by the time the refusal comes back: the job was re-evaluated with that state, so the
/// refusal is no lost race. Taken for one, the run was left out until it changed, and nothing
/// changed it: it sat pending.
@Suite(.serverLoadLimit) struct StateMovedClaimTests {
    /// The job is paused and resumed between the worker's choice of its run and the claim.
    @Test(arguments: SchedulerBackend.all)
    func aClaimRefusedByAStateTheWorkerHasSeenIsTriedAgain(backend: SchedulerBackend) async throws {
        let cluster = try TestCluster(backend)
        defer { Task { await cluster.shutdown() } }
        let layout = cluster.layout
        let jobKey = try layout.job("job")
        let client = try await cluster.client()
        let moved = Shared<Int64?>(nil)
        try await cluster.startWorker("w", handlers: ["work": { _ in RunOutput(message: "done") }]) { base in
            let sight = DeliveredVersionStore(base, key: jobKey)
            return InterposedTransaction(sight, .before, when: ReplacedSessionClaimTests.claims(in: layout)) {
                try await client.pause("job")
                try await client.resume("job")
                guard let version = try await base.get(jobKey)?.version else { throw CoordinationError(.noNode, "job gone") }
                moved.withLock { $0 = version }
                // The claim goes (and is refused) once the worker has handled the resume.
                for await delivered in sight.delivered where delivered >= version { return }
            }
        }
        try await client.submit(JobSpec(id: "job", handler: "work"))
        let history = try await cluster.waitForHistory("the run, claimed again") { successes("job")($0) }
        #expect(moved.value != nil, "the job's state moved under the first claim")
        #expect(history.map(\.outcome) == [.succeeded])
        #expect(try await client.activeRuns(of: "job").isEmpty)
    }
}
