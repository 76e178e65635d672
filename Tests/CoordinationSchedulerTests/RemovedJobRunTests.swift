import Coordination
import CoordinationScheduler
import CoordinationTestSupport
import Foundation
import Testing

/// A job removed while one of its runs is running: `remove` deletes the run and its claim
/// without waiting for the handler, so the attempt must stop, and what it writes when it ends
/// must not land on whatever the job's keys hold by then.
@Suite(.serverLoadLimit) struct RemovedJobRunTests {
    /// The handler of a removed job's run is stopped, even when its worker saw only the run's
    /// deletion (on ZooKeeper a watch re-reads, and may find the run gone rather than asked to
    /// stop): here the job's keys are deleted without the cancel request `remove` writes first.
    @Test(arguments: SchedulerBackend.all)
    func aRunWhoseJobIsDeletedUnderItIsStopped(backend: SchedulerBackend) async throws {
        let cluster = try TestCluster(backend)
        defer { Task { await cluster.shutdown() } }
        let started = Signal()
        let cancelled = Signal()
        let waits: JobHandler = { _ in
            started.fire()
            do { try await Task.sleep(for: .seconds(3600)) } catch { cancelled.fire() }
            return RunOutput()
        }
        try await cluster.startWorker("w", handlers: ["wait": waits])
        let client = try await cluster.client()
        try await client.submit(JobSpec(id: "job", handler: "wait"))
        try await withDeadline("the run to start") { await started.wait() }
        let store = try await cluster.open()
        for key in [try cluster.layout.job("job"), try cluster.layout.history(of: "job")] {
            try await store.delete(key, ifVersion: nil, recursive: true)
        }
        try await withDeadline("the handler of the deleted run to be cancelled") { await cancelled.wait() }
    }
}
