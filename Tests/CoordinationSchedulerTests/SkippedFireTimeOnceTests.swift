import Coordination
@testable import CoordinationScheduler
import CoordinationTestSupport
import Foundation
import Testing

/// An `every` job's fire time came back from the store a hair early (``StoredFireTimeTests``), and
/// was due again: a `skip` job whose run was still active had the same fire time recorded as
/// skipped at each of the leader's passes, which its own history write set off (74 entries in
/// two seconds from `coord run` on the embedded store, 26 for one fire time on etcd).
@Suite(.serverLoadLimit) struct SkippedFireTimeOnceTests {
    /// A submission time with a fraction of a millisecond whose second 300 ms fire time reads
    /// back early (found by ``StoredFireTimeTests``' search).
    static let start = Date(timeIntervalSince1970: 1_796_545_918.8634567)

    @Test(arguments: SchedulerBackend.all)
    func aSkippedFireTimeIsRecordedOnce(backend: SchedulerBackend) async throws {
        let clock = ManualWallClock(Self.start)
        let cluster = try TestCluster(backend, clock: clock.wallClock)
        defer { Task { await cluster.shutdown() } }
        let started = Signal()
        let release = Signal()
        try await cluster.startWorker("w", capacity: 4, handlers: [
            "block": { _ in
                started.fire()
                await release.wait()
                return RunOutput()
            },
            "noop": { _ in RunOutput() },
        ])
        let client = try await cluster.client()
        try await client.submit(JobSpec(id: "skip", handler: "block", schedule: .every(.milliseconds(300), start: nil), overlap: .skip))
        // Counted from the submission time as the leader reads it back.
        let anchor = try #require(try await client.job("skip")?.state.submittedAt)
        let schedule = JobSchedule.every(.milliseconds(300), start: nil)
        let first = try #require(schedule.nextFireTime(after: anchor, anchor: anchor))
        let second = try #require(schedule.nextFireTime(after: first, anchor: anchor))
        try await withDeadline("the leader's wake for the first fire time") { await clock.waitForSleeper(until: first) }
        clock.set(first)
        try await withDeadline("the first run to start") { await started.wait() }
        try await withDeadline("the leader's wake for the second fire time") { await clock.waitForSleeper(until: second) }
        clock.set(second)
        _ = try await cluster.waitForHistory("the second fire time skipped") { entries in
            entries.contains { $0.job == "skip" && $0.outcome == .skipped }
        }
        // More passes of the leader while the run lasts: each looked at the skipped fire time again.
        for index in 1...3 { try await client.submit(JobSpec(id: "nudge-\(index)", handler: "noop")) }
        _ = try await cluster.waitForHistory("the nudges") { successes("nudge-1", 1)($0) && successes("nudge-2", 1)($0) && successes("nudge-3", 1)($0) }
        release.fire()
        let history = try await cluster.waitForHistory("the first run's end") { successes("skip", 1)($0) }
        let skip = history.filter { $0.job == "skip" }
        #expect(skip.map(\.outcome) == [.skipped, .succeeded], "\(skip.map { "\($0.outcome) \($0.scheduledAt.map { "\($0.timeIntervalSince1970)" } ?? "-")" })")
        #expect(skip.first?.scheduledAt.map { abs($0.timeIntervalSince(second)) < 0.000_1 } == true, "the second fire time (as read back)")
    }
}
