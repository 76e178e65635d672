import Coordination
import CoordinationTestSupport
@testable import CoordinationScheduler
import Foundation
import Testing

/// A worker that cannot tell whether its claim landed rewrites the run unchanged at the version
/// the claim checked (``RunExecution/shutOut(_:)``), so that the claim cannot land later. Its
/// view may have missed that the run was held: the holder's attempt must go on undisturbed.
@Suite(.serverLoadLimit) struct ShutOutRunTests {
    @Test(arguments: SchedulerBackend.all)
    func aHeldRunRewrittenUnchangedStillTakesItsHoldersProgress(backend: SchedulerBackend) async throws {
        let cluster = try TestCluster(backend)
        defer { Task { await cluster.shutdown() } }
        let started = Signal()
        let rewritten = Signal()
        let progressFailure = Shared<String?>(nil)
        let handler: JobHandler = { context in
            started.fire()
            await rewritten.wait()
            do { try await context.progress("after the rewrite") } catch { progressFailure.withLock { $0 = "\(error)" } }
            return RunOutput(message: "done")
        }
        try await cluster.startWorker("w", handlers: ["work": handler])
        let client = try await cluster.client()
        try await client.submit(JobSpec(id: "job", handler: "work"))
        try await withDeadline("the run to start") { await started.wait() }

        // What shutOut writes: the record as read, its attempt's token kept, at its version.
        let store = try await cluster.open()
        let active = try #require(try await client.activeRuns(of: "job").first)
        let key = try cluster.layout.run("job", active.record.run)
        let current = try #require(try await store.get(key))
        var unchanged = try current.decoded(RunRecord.self)
        #expect(unchanged.status == .running)
        unchanged.token = unchanged.attemptToken(version: current.version, modRevision: current.modRevision)
        _ = try await store.set(key, value: try SchedulerJSON.encode(unchanged), ifVersion: current.version)
        rewritten.fire()

        let history = try await cluster.waitForHistory("the run's end") { !$0.isEmpty }
        #expect(progressFailure.value == nil, "the holder's report was refused as if the run were taken over")
        #expect(history.map(\.outcome) == [.succeeded])
        #expect(history.first?.worker == "w" && history.first?.message == "done")
    }
}
