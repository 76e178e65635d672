import Coordination
@testable import CoordinationScheduler
import CoordinationTestSupport
import Foundation
import Testing

/// During a rolling upgrade an earlier coord writes a job's record back without `fenced` (a
/// field it does not know), and the job's writes went unfenced from then on; its removal left
/// its incarnation key behind. The leader fences it again (``FenceRestoration``), and a removal
/// deletes the key by the record's tag, fenced or not.
@Suite(.serverLoadLimit) struct FenceRestorationTests {
    /// The job's record as an earlier coord that keeps the tag but not `fenced` writes it back.
    static func unfence(_ id: String, in store: any CoordinationStore, layout: SchedulerLayout) async throws -> JobRecord {
        let key = try layout.job(id)
        let stored = try #require(try await store.get(key))
        var record = try stored.decoded(JobRecord.self)
        #expect(record.state.fenced)
        record.state.fenced = false
        _ = try await store.set(key, value: try record.encoded(), ifVersion: stored.version)
        return record
    }

    @Test(arguments: SchedulerBackend.all)
    func theLeaderFencesAgainAJobAnEarlierCoordUnfenced(backend: SchedulerBackend) async throws {
        let cluster = try TestCluster(backend)
        defer { Task { await cluster.shutdown() } }
        let layout = cluster.layout
        let client = try await cluster.client()
        try await client.submit(JobSpec(id: "job", handler: "noop", schedule: .every(.seconds(3600), start: nil)))
        let unfenced = try await Self.unfence("job", in: client.store, layout: layout)
        #expect(try await client.job("job")?.state.fenced == false)
        try await cluster.startWorker("w0", handlers: ["noop": { _ in RunOutput() }])
        let state = try await cluster.waitForState(of: "job", "the job fenced again") { $0.fenced }
        var expected = unfenced.state
        expected.fenced = true
        #expect(state == expected, "nothing else of the state changed")
    }

    @Test(arguments: SchedulerBackend.all)
    func removingAJobAnEarlierCoordUnfencedDeletesItsKey(backend: SchedulerBackend) async throws {
        let cluster = try TestCluster(backend)
        defer { Task { await cluster.shutdown() } }
        let layout = cluster.layout
        let client = try await cluster.client()
        try await client.submit(JobSpec(id: "job", handler: "noop", schedule: .every(.seconds(3600), start: nil)))
        let record = try await Self.unfence("job", in: client.store, layout: layout)
        let key = try layout.incarnation(of: "job", tag: try #require(record.state.incarnation))
        try await client.remove("job")
        #expect(try await client.job("job") == nil)
        #expect(try await !client.store.exists(key), "the key goes with the job")
    }
}
