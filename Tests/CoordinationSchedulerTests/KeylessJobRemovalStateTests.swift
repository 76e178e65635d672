import Coordination
@testable import CoordinationScheduler
import CoordinationTestSupport
import Foundation
import Testing

/// ``Scheduler/isBeingRemoved(_:)`` tells a removal under way by the incarnation key gone; a job
/// added by a version that drew tags but made no keys (and unfenced) never had one, and is not
/// being removed: `coord jobs` would show it as `removing`, never fired, and `coord job rm` as
/// the way out. No test asked it of such a job: answering `true` passed them all (found by the
/// mutation audit of the leader's upkeep).
@Suite(.serverLoadLimit) struct KeylessJobRemovalStateTests {
    @Test(arguments: SchedulerBackend.all)
    func aJobAddedWithoutAKeyIsNotBeingRemoved(backend: SchedulerBackend) async throws {
        let cluster = try TestCluster(backend)
        defer { Task { await cluster.shutdown() } }
        let layout = cluster.layout
        let client = try await cluster.client()
        try await client.submit(JobSpec(id: "legacy", handler: "noop", schedule: .every(.seconds(3600), start: nil)))
        try await client.submit(JobSpec(id: "halfway", handler: "noop", schedule: .every(.seconds(3600), start: nil)))
        // As that version left it: a tag, no key, no `fenced`.
        let legacy = try await FenceRestorationTests.unfence("legacy", in: client.store, layout: layout)
        try await client.store.delete(try layout.incarnation(of: "legacy", tag: try #require(legacy.state.incarnation)), ifVersion: nil)
        // A current job whose removal stopped right after deleting its key, beside it.
        let halfway = try #require(try await client.job("halfway"))
        try await client.store.delete(try layout.incarnation(of: "halfway", tag: try #require(halfway.state.incarnation)), ifVersion: nil)

        #expect(try await !client.isBeingRemoved(try #require(try await client.job("legacy"))))
        #expect(try await client.isBeingRemoved(halfway))
        #expect(try await client.overview().jobs.map { "\($0.job.spec.id) \($0.beingRemoved)" } == ["halfway true", "legacy false"])
    }
}
