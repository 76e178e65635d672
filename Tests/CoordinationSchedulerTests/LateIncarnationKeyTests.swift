import Coordination
@testable import CoordinationScheduler
import CoordinationTestSupport
import Foundation
import Testing

/// A job's incarnation key normally comes with its record, in one transaction. `coord migrate
/// --follow` from ZooKeeper may copy the record first: a worker or leader working on the target
/// then sees the job with no key, as if its removal had stopped halfway, and leaves it alone.
/// That lasted until the worker restarted (or the leadership changed): now each checks again
/// ``ClaimQueue/removalRecheckDelay`` after the refusal, and the job runs once its key is there.
@Suite(.serverLoadLimit) struct LateIncarnationKeyTests {
    static let start = Date(timeIntervalSince1970: 1_800_000_000)

    /// Deletes the job's incarnation key; returns it and its value, to be put back as a late copy.
    static func takeAwayKey(of job: String, client: Scheduler, layout: SchedulerLayout) async throws -> (Key, [UInt8]) {
        let tag = try #require(try await client.job(job)?.state.incarnation)
        let key = try layout.incarnation(of: job, tag: tag)
        let value = try #require(try await client.store.get(key)).value
        try await client.store.delete(key, ifVersion: nil)
        return (key, value)
    }

    @Test(arguments: SchedulerBackend.all)
    func aWorkerClaimsTheRunsOfAJobWhoseKeyCameLate(backend: SchedulerBackend) async throws {
        let clock = ManualWallClock(Self.start)
        let cluster = try TestCluster(backend, clock: clock.wallClock)
        defer { Task { await cluster.shutdown() } }
        let layout = cluster.layout
        let client = try await cluster.client()
        try await client.submit(JobSpec(id: "late", handler: "noop", shards: 2))
        let (key, value) = try await Self.takeAwayKey(of: "late", client: client, layout: layout)

        let attempts = TransactionCount.claims(of: try layout.job("late"))
        // One slot: the claims are made one after another, so the first refusal is noted before
        // the second run is tried.
        try await cluster.startWorker("w0", capacity: 1, handlers: ["noop": { _ in RunOutput() }], clock: clock.wallClock) {
            attempts.counting($0)
        }
        try await withDeadline("the worker's first claim of a run of the job") { await attempts.answered.wait() }
        _ = try await client.store.create(key, value: value, mode: .persistent)
        let recheck = Self.start.addingTimeInterval(ClaimQueue.removalRecheckDelay)
        try await withDeadline("the worker's wake for its recheck") { await clock.waitForSleeper(until: recheck) }
        #expect(try await client.history(of: "late").isEmpty, "no run before the recheck")
        clock.set(recheck)
        _ = try await cluster.waitForHistory("both runs of the job", successes("late", 2))
        #expect(attempts.count == 3, "one refused claim, then one per run: \(attempts.count)")
    }

    @Test(arguments: SchedulerBackend.all)
    func theLeaderMaterialisesAJobWhoseKeyCameLate(backend: SchedulerBackend) async throws {
        let (clock, cluster, client) = try await TestCluster.besideAnEveryMinuteJob(
            backend, start: Self.start, JobSpec(id: "late", handler: "noop", schedule: TestCluster.everyMinute))
        defer { Task { await cluster.shutdown() } }
        let layout = cluster.layout
        let (key, value) = try await Self.takeAwayKey(of: "late", client: client, layout: layout)
        let writes = TransactionCount.recordWrites(of: try layout.job("late"))
        try await cluster.startWorker("w0", handlers: ["noop": { _ in RunOutput() }], clock: clock.wallClock) {
            writes.counting($0)
        }
        // The first fire time's write is refused: the job is left alone from then on.
        try await cluster.runFireTimes(of: "other", 1...1, every: 60, from: Self.start, clock: clock)
        #expect(writes.count == 1)
        _ = try await client.store.create(key, value: value, mode: .persistent)
        let recheckAfter = 60 + ClaimQueue.removalRecheckDelay
        try await cluster.runFireTimes(of: "other", 2...Int(recheckAfter / 60) - 1, every: 60, from: Self.start, clock: clock)
        #expect(writes.count == 1, "left alone until the recheck")
        #expect(try await client.history(of: "late").isEmpty)
        try await cluster.runFireTimes(of: "other", Int(recheckAfter / 60)...Int(recheckAfter / 60), every: 60, from: Self.start, clock: clock)
        _ = try await cluster.waitForHistory("a run of the job at the recheck", successes("late"))
        let job = try #require(try await client.job("late"))
        #expect(job.state.lastMaterialized == Self.start.addingTimeInterval(recheckAfter))
        #expect(try await !client.isBeingRemoved(job))
    }
}
