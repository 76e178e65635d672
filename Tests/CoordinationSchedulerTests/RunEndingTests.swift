import Coordination
@testable import CoordinationScheduler
import CoordinationTestSupport
import Foundation
import Testing

/// What the history says about runs that did not end by themselves.
@Suite(.serverLoadLimit) struct RunEndingTests {
    static let start = Date(timeIntervalSince1970: 1_800_000_000)

    /// A handler that waits until it is stopped, then fails with the output it had so far (as
    /// the shell handler does).
    static func waitsUntilStopped(_ started: Signal) -> JobHandler {
        { context in
            started.fire()
            do { try await Task.sleep(for: .seconds(3600)) } catch {}
            throw RunFailure("stopped", stdoutTail: "out of \(context.job)", stderrTail: "err of \(context.job)")
        }
    }

    @Test(arguments: SchedulerBackend.all)
    func stoppedRunsKeepTheirOutputTails(backend: SchedulerBackend) async throws {
        let cluster = try TestCluster(backend)
        defer { Task { await cluster.shutdown() } }
        let started = Signal()
        try await cluster.startWorker("w", handlers: ["wait": Self.waitsUntilStopped(started)])
        let client = try await cluster.client()
        try await client.submit(JobSpec(id: "slow", handler: "wait", timeout: .milliseconds(100)))
        try await client.submit(JobSpec(id: "cancelled", handler: "wait"))
        _ = try await cluster.waitForRuns(of: "cancelled", "the run to start") { $0.first?.status == .running }
        try await client.cancel("cancelled")
        let history = try await cluster.waitForHistory("a timeout and a cancellation") { $0.count >= 2 }
        let slow = try #require(history.first { $0.job == "slow" })
        #expect(slow.outcome == .timedOut)
        #expect(slow.message == "timed out after 100ms")
        #expect(slow.stdoutTail == "out of slow" && slow.stderrTail == "err of slow")
        let cancelled = try #require(history.first { $0.job == "cancelled" })
        #expect(cancelled.outcome == .cancelled)
        #expect(cancelled.message == "cancelled by request")
        #expect(cancelled.stdoutTail == "out of cancelled" && cancelled.stderrTail == "err of cancelled")
    }

    /// `--overlap replace` cancels the active run for a newer one: its entry says so, not that
    /// someone cancelled it.
    @Test(arguments: SchedulerBackend.all)
    func aReplacedRunSaysItWasReplaced(backend: SchedulerBackend) async throws {
        let clock = ManualWallClock(Self.start)
        let cluster = try TestCluster(backend, clock: clock.wallClock)
        defer { Task { await cluster.shutdown() } }
        let first = Self.start.addingTimeInterval(1)
        let firstOnly: JobHandler = { context in
            if context.scheduledAt == first { try await Task.sleep(for: .seconds(3600)) }
            return RunOutput()
        }
        try await cluster.startWorker("w", handlers: ["h": firstOnly])
        let client = try await cluster.client()
        try await client.submit(JobSpec(id: "replace", handler: "h", schedule: .cron(try CronExpression("* * * * * *")), overlap: .replace))
        clock.advance(by: 1)
        _ = try await cluster.waitForRuns(of: "replace", "the first run to start") { $0.first?.status == .running }
        clock.advance(by: 1)
        let history = try await cluster.waitForHistory("the replaced run and its successor") { successes("replace")($0) }
        let replaced = try #require(history.first { $0.scheduledAt == first })
        #expect(replaced.outcome == .cancelled)
        // The leader's reason names the newer fire time (how it writes times is the leader's affair).
        #expect(replaced.message?.hasPrefix("replaced by the fire time ") == true, "\(replaced.message ?? "-")")
    }
}
