import Coordination
import CoordinationScheduler
import CoordinationTestSupport
import Foundation
import Testing

/// The leader records a fire time as materialised (``JobState/lastMaterialized``) in the same
/// transaction that creates its runs: a write of the runs that fails (a crash, a server that did
/// not answer) must leave the fire time still due, never recorded as done without its run.
@Suite(.serverLoadLimit) struct FireTimeMaterialisationTests {
    static let start = Date(timeIntervalSince1970: 1_800_000_000)

    @Test(arguments: SchedulerBackend.all)
    func aFireTimeWhoseRunCouldNotBeWrittenStillRunsOrIsCountedMissed(backend: SchedulerBackend) async throws {
        let clock = ManualWallClock(Self.start)
        let cluster = try TestCluster(backend, clock: clock.wallClock)
        defer { Task { await cluster.shutdown() } }
        let jobKey = try cluster.layout.job("tick")
        let refused = Signal()
        // The first write that creates one of the job's runs is refused, as when no server answers.
        let createsARun: @Sendable ([Coordination.Operation]) -> Bool = { operations in
            let creates = operations.contains { if case .create(let key, _, .persistent) = $0 { key.parent == jobKey } else { false } }
            if creates { refused.fire() }
            return creates
        }
        let calls = Shared<[Date: Int]>([:])
        let handler: JobHandler = { context in
            calls.withLock { $0[context.scheduledAt, default: 0] += 1 }
            return RunOutput()
        }
        try await cluster.startWorker(
            "w", handlers: ["tick": handler], wrapping: { FaultyTransactionStore($0, .refused, count: 1, when: createsARun) })
        let client = try await cluster.client()
        try await client.submit(JobSpec(id: "tick", handler: "tick", schedule: .cron(try CronExpression("* * * * * *"))))
        let first = Self.start.addingTimeInterval(1)
        let second = Self.start.addingTimeInterval(2)
        clock.advance(by: 1)
        try await withDeadline("the refused write of the first fire time's run") { await refused.wait() }
        clock.advance(by: 1)
        let history = try await cluster.waitForHistory("the second fire time's run") { entries in
            entries.contains { $0.job == "tick" && $0.outcome == .succeeded && $0.scheduledAt == second }
        }
        // The first fire time either ran (the leader tried again before the second was due) or
        // is counted in the second's missed entry; lost, it is in neither.
        let ran = history.filter { $0.job == "tick" && $0.outcome == .succeeded && $0.scheduledAt == first }.count
        let counted = history.filter { $0.job == "tick" && $0.outcome == .skipped }
            .compactMap { $0.message?.split(separator: " ").first.flatMap { Int($0) } }
            .reduce(0, +)
        #expect(ran + counted == 1, "the first fire time ran or was counted missed, once: ran \(ran), counted \(counted)")
        #expect(calls.value.values.allSatisfy { $0 == 1 }, "no fire time ran twice")
    }
}
