import Coordination
@testable import CoordinationScheduler
import CoordinationTestSupport
import Foundation
import Synchronization
import Testing

/// A job whose removal stopped right after deleting its incarnation key is left alone by the
/// leader once it knows (``UnfinishedRemovals``): no fire times, and no placement of the pending
/// runs the removal had not cancelled yet either (a run created between its cancel of the
/// active runs and its deletion of the key). A run's assignment is a write of the run alone,
/// which nothing refuses, and a claim then checked the run's version, not the incarnation:
/// placed, the run was claimed and its handler run, for a job being removed (a claim checks the
/// incarnation's key now too: ``UnfinishedRemovalClaimTests``). The leader's removal tests
/// had no pending run: placing the runs of such a job passed them all (found by the mutation
/// audit of the leader's upkeep).
@Suite(.serverLoadLimit) struct UnfinishedRemovalPlacementTests {
    static let start = Date(timeIntervalSince1970: 1_800_000_000)

    @Test(arguments: SchedulerBackend.all)
    func theLeaderPlacesNoRunOfAJobWhoseRemovalStoppedHalfway(backend: SchedulerBackend) async throws {
        let (clock, cluster, client) = try await TestCluster.besideAnEveryMinuteJob(
            backend, start: Self.start,
            JobSpec(id: "halfway", handler: "removing", schedule: TestCluster.everyMinute, placement: .leastLoaded))
        defer { Task { await cluster.shutdown() } }
        let layout = cluster.layout
        // Triggered with no worker up: pending, for the leader to place.
        let triggered = try await client.trigger("halfway")
        let pending = try await client.activeRuns(of: "halfway")
        #expect(pending.map(\.record.run) == triggered)
        #expect(pending.map(\.record.assignee) == [nil])
        let tag = try #require(try await client.job("halfway")?.state.incarnation)
        try await client.store.delete(try layout.incarnation(of: "halfway", tag: tag), ifVersion: nil)

        // Its first fire time due at the leader's first pass: the refused materialisation tells
        // the leader the removal is unfinished before it places runs.
        clock.advance(by: 60)
        let handled = Atomic<Int>(0)
        try await cluster.startWorker(
            "w0",
            handlers: [
                "noop": { _ in RunOutput() },
                "removing": { _ in
                    handled.add(1, ordering: .relaxed)
                    return RunOutput()
                },
            ])
        _ = try await cluster.waitForHistory("fire time 1 of the other job", successes("other", 1))
        try await cluster.runFireTimes(of: "other", 2...3, every: 60, from: Self.start, clock: clock)
        let runs = try await client.activeRuns(of: "halfway")
        #expect(runs.map(\.record.run) == triggered)
        #expect(runs.map(\.record.assignee) == [nil], "the leader placed a run of a job being removed")
        #expect(handled.load(ordering: .relaxed) == 0, "a run of a job being removed was run")
    }
}
