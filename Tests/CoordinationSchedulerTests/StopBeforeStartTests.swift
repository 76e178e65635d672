import Coordination
import CoordinationTestSupport
@testable import CoordinationScheduler
import Foundation
import Logging
import Testing

/// A stop that reaches the worker after its claim landed but before it started the handler: a
/// cancel request (written by `cancel` just after the claim) or the end of a shutdown's grace
/// period. The handler must never start: started and then cancelled, a command it runs is under
/// way before it can notice.
@Suite(.serverLoadLimit) struct StopBeforeStartTests {
    /// The handler was started (and cancelled at once) all the same.
    @Test(arguments: SchedulerBackend.all)
    func aRunCancelledBeforeItsStartNeverStartsAndEndsCancelled(backend: SchedulerBackend) async throws {
        let cluster = try TestCluster(backend)
        defer { Task { await cluster.shutdown() } }
        let client = try await cluster.client()
        let started = Shared(0)
        let (execution, claim, control) = try await Self.claimed(
            JobSpec(id: "job", handler: "work", retry: RetryPolicy(maxRetries: 2, backoffBase: .milliseconds(10))), cluster: cluster,
            client: client, started: started)

        let cancelled = try await client.cancel("job")
        #expect(cancelled.askedToStop.count == 1, "the run was running when cancelled")
        control.stop(.cancelRequested)  // what the worker does on the request's watch event
        let counted = Shared(0)
        let outcome = await execution.perform(claim, control: control) { _ in counted.withLock { $0 += 1 } }
        #expect(started.value == 0, "the handler started")
        #expect(counted.value == 0, "counted as started")
        let recorded = await execution.settle(outcome, claim: claim, control: control)
        #expect(recorded == .cancelled)
        let history = try await client.history(of: "job")
        #expect(history.map(\.outcome) == [.cancelled])
        #expect(history.first?.message == "cancelled by request")
        #expect(try await client.activeRuns(of: "job").isEmpty, "the cancelled run is not retried")
    }

    /// The grace period of a shutdown ended before the start: the run is handed back, at the same
    /// attempt, without its handler having started.
    @Test(arguments: SchedulerBackend.all)
    func aRunHandedBackBeforeItsStartNeverStarts(backend: SchedulerBackend) async throws {
        let cluster = try TestCluster(backend)
        defer { Task { await cluster.shutdown() } }
        let client = try await cluster.client()
        let started = Shared(0)
        let (execution, claim, control) = try await Self.claimed(
            JobSpec(id: "job", handler: "work"), cluster: cluster, client: client, started: started)

        control.stop(.shutdown)
        let counted = Shared(0)
        let outcome = await execution.perform(claim, control: control) { _ in counted.withLock { $0 += 1 } }
        #expect(started.value == 0, "the handler started")
        #expect(counted.value == 0, "counted as started")
        let recorded = await execution.settle(outcome, claim: claim, control: control)
        #expect(recorded == .handedBack)
        let runs = try await client.activeRuns(of: "job")
        #expect(runs.map(\.record.status) == [.pending])
        #expect(runs.first?.record.attempt == 1)
    }

    /// Submits `spec` (no worker runs) and claims its only run as a worker would; the handler
    /// counts its starts in `started`.
    static func claimed(
        _ spec: JobSpec, cluster: TestCluster, client: Scheduler, started: Shared<Int>
    ) async throws -> (RunExecution, RunExecution.Claim, RunControl) {
        try await client.submit(spec)
        let store = try await cluster.open()
        let view = try await ReaddedJobClaimTests.view(of: spec, in: store, layout: cluster.layout)
        let execution = RunExecution(
            store: store, layout: cluster.layout, worker: "w", clock: .system, logger: Logger(label: "test.stop-before-start"),
            spec: spec, candidate: view.run, previousToken: nil,
            handler: { _ in
                started.withLock { $0 += 1 }
                return RunOutput(message: "ran")
            }, historyRoom: nil, stateVersion: view.recordVersion, incarnation: view.incarnation, commits: nil, registration: 1,
            registrationSession: store.session.sessionID)
        let control = RunControl(fence: view.run.version)
        let claim = try #require(try await execution.claim(control: control).won, "the run was claimed")
        return (execution, claim, control)
    }
}
