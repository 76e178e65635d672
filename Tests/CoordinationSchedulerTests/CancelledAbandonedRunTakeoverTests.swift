import Coordination
import CoordinationScheduler
import CoordinationTestSupport
import Foundation
import Testing

/// A run asked to stop whose worker's session ends before its handler returns is taken over by
/// another worker, and that takeover ends it `cancelled` without running it: the request outlives
/// the worker it was sent to. (A takeover that skipped the request ran the cancelled run again,
/// recorded `abandoned` then `succeeded`, and no other scheduler test noticed: the paused-job
/// case goes through the leader instead.)
@Suite(.serverLoadLimit) struct CancelledAbandonedRunTakeoverTests {
    @Test(arguments: SchedulerBackend.all)
    func aTakeoverEndsARunCancelledBeforeItsWorkerWasLostWithoutRunningIt(backend: SchedulerBackend) async throws {
        let cluster = try TestCluster(backend)
        defer { Task { await cluster.shutdown() } }
        let attempts = Shared<[Int]>([])
        let started = Signal()
        let release = Signal()
        // Deaf to the stop (a detached wait is not cancelled): the run stays running, its cancel
        // request unanswered, until its worker is lost.
        let deaf: JobHandler = { context in
            attempts.withLock { $0.append(context.attempt) }
            guard context.attempt == 1 else { return RunOutput() }
            started.fire()
            await Task.detached { await release.wait() }.value
            return RunOutput(message: "zombie success")
        }
        defer { release.fire() }
        let (_, doomedStore) = try await cluster.startWorker("doomed", handlers: ["work": deaf])
        let client = try await cluster.client()
        try await client.submit(JobSpec(id: "job", handler: "work", retry: RetryPolicy(maxRetries: 2, backoffBase: .milliseconds(10))))
        try await withDeadline("the first attempt") { await started.wait() }
        // Started after the claim, so that the doomed worker runs the first attempt.
        try await cluster.startWorker("lives", handlers: ["work": deaf])
        try await cluster.waitForWorkers(2)
        #expect(try await client.cancel("job").askedToStop.count == 1, "the run was running when cancelled")
        _ = try await cluster.waitForRuns(of: "job", "the cancel request on the run") { $0.first?.cancelRequested == true }
        try await backend.expire(doomedStore)
        _ = try await cluster.waitForRuns(of: "job", "the run to end") { $0.isEmpty }
        let history = try await client.history(of: "job")
        #expect(history.map(\.outcome) == [.cancelled])
        #expect(history.first?.message == "cancelled by request while its worker doomed was lost", "\(history.first?.message ?? "")")
        #expect(history.first?.worker == "doomed" && history.first?.attempt == 1, "the entry names the lost attempt")
        #expect(attempts.value == [1], "nobody ran the cancelled run again")
    }
}
