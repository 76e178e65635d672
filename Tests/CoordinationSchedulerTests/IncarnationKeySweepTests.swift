import Coordination
@testable import CoordinationScheduler
import CoordinationTestSupport
import Foundation
import Testing

/// Incarnation keys whose job's record is gone or holds another tag (left by an earlier coord
/// that rewrote or removed a job, or by removing a job whose record did not decode) were never
/// removed. The leader sweeps them (``IncarnationKeySweep``) and keeps the live jobs' keys.
@Suite(.serverLoadLimit) struct IncarnationKeySweepTests {
    @Test(arguments: SchedulerBackend.all)
    func theLeaderRemovesOrphanKeysAndKeepsLiveOnes(backend: SchedulerBackend) async throws {
        let cluster = try TestCluster(backend)
        defer { Task { await cluster.shutdown() } }
        let layout = cluster.layout
        let client = try await cluster.client()
        let store = client.store
        try await client.submit(JobSpec(id: "live", handler: "noop", schedule: .every(.seconds(3600), start: nil)))
        let liveKey = try layout.incarnation(of: "live", tag: try #require(try await client.job("live")?.state.incarnation))
        let orphans = [
            try layout.incarnation(of: "gone", tag: "aaaaaa"),  // no record at all
            try layout.incarnation(of: "live", tag: "bbbbbb"),  // a record of another incarnation
        ]
        for key in orphans { _ = try await store.create(key, value: [], mode: .persistent) }
        let watch = store.watch(layout.incarnations, scope: .subtree)
        try await cluster.startWorker("w0", handlers: ["noop": { _ in RunOutput() }])
        try await withDeadline("the orphan keys' removal") {
            var records: [Key: Record] = [:]
            for try await event in watch {
                records.apply(event)
                if orphans.allSatisfy({ records[$0] == nil }) { return }
            }
            throw CoordinationError(.unavailable, "the watch of the incarnation keys ended")
        }
        // A pass deletes only once it has judged every key: the live one was judged too.
        #expect(try await store.exists(liveKey))
        #expect(IncarnationKeySweep.split("aaaaaa-a-b").map { "\($0.tag) \($0.job)" } == "aaaaaa a-b")
        #expect(IncarnationKeySweep.split("aaaaa-job") == nil)
        #expect(IncarnationKeySweep.split("aaaaaa-") == nil)
    }
}
