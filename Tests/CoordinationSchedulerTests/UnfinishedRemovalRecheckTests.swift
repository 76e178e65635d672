import Coordination
@testable import CoordinationScheduler
import CoordinationTestSupport
import Foundation
import Testing

/// The leader leaves a job whose removal stopped halfway alone for ``ClaimQueue/removalRecheckDelay``,
/// then writes it again (`coord migrate --follow` may bring its key later): it wakes for that
/// recheck on its own. It missed the recheck of a job noted by the pass's own write, which no
/// later pass came to compute: a job whose fire times are more than the delay apart was
/// written again only at its next fire time.
@Suite(.serverLoadLimit) struct UnfinishedRemovalRecheckTests {
    static let start = Date(timeIntervalSince1970: 1_800_000_000)
    /// Fire times further apart than the recheck delay: the job's next one is no wake for its recheck.
    static let hourly = JobSchedule.every(.seconds(3600), start: nil)

    @Test(arguments: SchedulerBackend.all)
    func theLeaderWakesForTheRecheckOfAJobWhoseRemovalStoppedHalfway(backend: SchedulerBackend) async throws {
        let clock = ManualWallClock(Self.start)
        let cluster = try TestCluster(backend, clock: clock.wallClock)
        defer { Task { await cluster.shutdown() } }
        try await Self.submitJobWhoseRemovalStoppedHalfway(in: cluster)
        let writes = TransactionCount.recordWrites(of: try cluster.layout.job("halfway"))
        // No finished-job sweep, whose passes would wake the leader every minute anyway.
        try await cluster.startWorker(
            "w0", finishedJobRetention: nil, finishedJobLimit: nil, handlers: ["noop": { _ in RunOutput() }]) { writes.counting($0) }

        let firstFireTime = Self.start.addingTimeInterval(3600)
        try await withDeadline("the leader's wake for the first fire time") { await clock.waitForSleeper(until: firstFireTime) }
        clock.set(firstFireTime)
        // The fire time's write is refused, and the job noted: the leader's next wake is its recheck.
        let recheck = firstFireTime.addingTimeInterval(ClaimQueue.removalRecheckDelay)
        try await withDeadline("the leader's wake for its recheck") { await clock.waitForSleeper(until: recheck) }
        #expect(writes.count == 1, "left alone until the recheck")
        clock.set(recheck)
        let next = recheck.addingTimeInterval(ClaimQueue.removalRecheckDelay)
        try await withDeadline("the leader's wake for the recheck after") { await clock.waitForSleeper(until: next) }
        #expect(writes.count == 2, "written again at the recheck, refused again")
    }

    /// A clock stepped back puts the recheck more than a delay ahead: it comes a delay from the
    /// stepped clock's time at the latest, rather than once the clock reads the noted time again
    /// (here half an hour on, without a fire time of the job meanwhile).
    @Test(arguments: SchedulerBackend.all)
    func aClockSteppedBackBringsTheRecheckNoLaterThanADelayAhead(backend: SchedulerBackend) async throws {
        let clock = ManualWallClock(Self.start)
        let cluster = try TestCluster(backend, clock: clock.wallClock)
        defer { Task { await cluster.shutdown() } }
        let client = try await Self.submitJobWhoseRemovalStoppedHalfway(in: cluster)
        try await cluster.startWorker("w0", finishedJobRetention: nil, finishedJobLimit: nil, handlers: ["noop": { _ in RunOutput() }])
        let firstFireTime = Self.start.addingTimeInterval(3600)
        try await withDeadline("the leader's wake for the first fire time") { await clock.waitForSleeper(until: firstFireTime) }
        clock.set(firstFireTime)
        let recheck = firstFireTime.addingTimeInterval(ClaimQueue.removalRecheckDelay)
        try await withDeadline("the leader's wake for its recheck") { await clock.waitForSleeper(until: recheck) }

        clock.stepBack(by: 1800)
        // A change wakes the leader: the job is no longer left alone, and the leader's next wake is
        // the job's first fire time, due again on the stepped clock (the new job's is later).
        try await client.submit(JobSpec(id: "wake", handler: "noop", schedule: .every(.seconds(3600), start: nil)))
        try await withDeadline("the leader's wake for the job's fire time") { await clock.waitForSleeper(until: firstFireTime) }
    }

    /// Submits job `halfway` and deletes its incarnation key, as a removal that stopped halfway leaves it.
    @discardableResult
    static func submitJobWhoseRemovalStoppedHalfway(in cluster: TestCluster) async throws -> Scheduler {
        let client = try await cluster.client()
        try await client.submit(JobSpec(id: "halfway", handler: "noop", schedule: Self.hourly))
        let tag = try #require(try await client.job("halfway")?.state.incarnation)
        try await client.store.delete(try cluster.layout.incarnation(of: "halfway", tag: tag), ifVersion: nil)
        return client
    }
}
