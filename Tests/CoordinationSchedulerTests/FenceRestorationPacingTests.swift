import Coordination
@testable import CoordinationScheduler
import CoordinationTestSupport
import Foundation
import Testing

/// The leader fences a job again at its passes a minute apart (``FenceRestoration/interval``),
/// not only at the start of its leadership: an earlier coord may write a record back without
/// `fenced` at any time during a rolling upgrade, and the incarnation key sweep beside it
/// (``LeaderUpkeep``) comes only once an hour.
@Suite(.serverLoadLimit) struct FenceRestorationPacingTests {
    @Test(arguments: SchedulerBackend.all)
    func aJobUnfencedAfterTheFirstPassIsFencedAgainAMinuteOn(backend: SchedulerBackend) async throws {
        let clock = ManualWallClock(IncarnationKeySweepTests.start)
        let cluster = try TestCluster(backend, clock: clock.wallClock)
        defer { Task { await cluster.shutdown() } }
        let client = try await cluster.client()
        try await client.submit(JobSpec(id: "job", handler: "noop", schedule: .every(.seconds(3600), start: nil)))
        // The leader's first passes, over a view in which the job is fenced. Quiet: its next wake
        // is the job's fire time, an hour on.
        let sweeps = try await KeySweeps.start(on: cluster, quiet: true)
        _ = try await sweeps.next("the leader's first sweep")

        // A minute on, the record written back without `fenced` is the change that wakes the
        // leader (and its view shows it): its fence restoration is due, its key sweep not.
        clock.advance(by: FenceRestoration.interval)
        let unfenced = try await FenceRestorationTests.unfence("job", in: client.store, layout: cluster.layout)
        let state: JobState
        do {
            state = try await cluster.waitForState(of: "job", "the job fenced again a minute on") { $0.fenced }
        } catch let error as CoordinationError where error.code == .timeout {
            // A pass for another change may have come first (an event of the first pass's own
            // writes, late), over a view without the unfenced record yet, and taken the minute's
            // restoration: the next minute's fences it, as its view shows the record by then.
            clock.advance(by: FenceRestoration.interval)
            try await client.submit(JobSpec(id: "wake", handler: "noop", schedule: .every(.seconds(3600), start: nil)))
            state = try await cluster.waitForState(of: "job", "the job fenced again two minutes on") { $0.fenced }
        }
        var expected = unfenced.state
        expected.fenced = true
        #expect(state == expected, "nothing else of the state changed")
    }
}
