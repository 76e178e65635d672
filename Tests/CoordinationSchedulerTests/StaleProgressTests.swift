import Coordination
import CoordinationScheduler
import CoordinationTestSupport
import Foundation
import Testing

/// A progress report is fenced by the attempt's own claim, not by the run's having a claim: once
/// another worker has taken the run over, its claim exists too, and a stale attempt's report
/// must not land on the new attempt's record (nor move the stale attempt's fence onto it). The
/// takeover may be the first worker's own, in its new session: attempts are told apart by number.
@Suite(.serverLoadLimit) struct StaleProgressTests {
    @Test(arguments: SchedulerBackend.all)
    func aStaleAttemptsProgressIsRefusedWhileTheTakeoverRuns(backend: SchedulerBackend) async throws {
        let cluster = try TestCluster(backend)
        defer { Task { await cluster.shutdown() } }
        let firstStarted = Signal()
        let takeoverStarted = Signal()
        let finish = Signal()
        let firstContext = Shared<RunContext?>(nil)
        let takeoverContext = Shared<RunContext?>(nil)
        let handler: JobHandler = { context in
            if context.attempt == 1 {
                firstContext.withLock { $0 = context }
                firstStarted.fire()
                await untilCancelled()
                throw CancellationError()
            }
            takeoverContext.withLock { $0 = context }
            takeoverStarted.fire()
            await finish.wait()
            return RunOutput()
        }
        let (_, firstStore) = try await cluster.startWorker("first", handlers: ["work": handler])
        let client = try await cluster.client()
        try await client.submit(JobSpec(id: "job", handler: "work", retry: RetryPolicy(maxRetries: 1, backoffBase: .milliseconds(10))))
        try await withDeadline("the first attempt to start") { await firstStarted.wait() }
        try await cluster.startWorker("second", handlers: ["work": handler])
        try await backend.expire(firstStore)
        try await withDeadline("the takeover to start") { await takeoverStarted.wait() }

        // The run is claimed again, by the takeover: the stale attempt's report is refused.
        let stale = try #require(firstContext.value)
        let current = try #require(takeoverContext.value)
        await #expect(throws: SchedulerError.fenced(job: "job", run: stale.run)) { try await stale.progress("zombie") }
        let active = try await client.activeRuns(of: "job")
        #expect(active.count == 1)
        #expect(active.first?.record.attempt == 2)
        #expect(active.first?.token == current.fencingToken, "the takeover's claim holds the run")
        #expect(active.first?.record.progress == nil, "the stale report landed on the takeover's record")
        // The takeover's own report and end still land.
        try await current.progress("mine")
        #expect(try await client.activeRuns(of: "job").first?.record.progress == "mine")
        finish.fire()
        let history = try await cluster.waitForHistory("the takeover's success") { successes("job")($0) }
        #expect(history.map(\.outcome) == [.abandoned, .succeeded])
        #expect(history.last?.token == current.fencingToken)
    }
}
