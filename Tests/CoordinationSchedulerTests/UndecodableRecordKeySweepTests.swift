import Coordination
@testable import CoordinationScheduler
import CoordinationTestSupport
import Foundation
import Testing

/// The incarnation key sweep judges a key by its job's record, read after the listing; a record
/// that does not decode (damaged, or written by a coord whose format this one cannot read) tells
/// nothing of its tag, so its key stays. Deleted, the job would read as being removed once its
/// record decodes again, refusing every write and never fired. Only the sweep's tests looked at
/// its judgement, and none had such a record: treating it as orphan passed them all (found by
/// the mutation audit of the leader's upkeep).
@Suite(.serverLoadLimit) struct UndecodableRecordKeySweepTests {
    static let start = Date(timeIntervalSince1970: 1_800_000_000)

    @Test(arguments: SchedulerBackend.all)
    func theKeyOfAJobWhoseRecordDoesNotDecodeOutlivesTwoSweeps(backend: SchedulerBackend) async throws {
        let clock = ManualWallClock(Self.start)
        let cluster = try TestCluster(backend, clock: clock.wallClock)
        defer { Task { await cluster.shutdown() } }
        let layout = cluster.layout
        let client = try await cluster.client()
        let store = client.store
        try await client.submit(JobSpec(id: "unreadable", handler: "noop", schedule: .every(.seconds(3600), start: nil)))
        let jobKey = try layout.job("unreadable")
        let record = try #require(try await store.get(jobKey))
        let tag = try #require(try record.decoded(JobRecord.self).state.incarnation)
        let key = try layout.incarnation(of: "unreadable", tag: tag)
        _ = try await store.set(jobKey, value: Array("{\"not\": \"a job record\"}".utf8), ifVersion: nil)

        let sweeps = try await KeySweeps.start(on: cluster)
        #expect(try await sweeps.next("the leader's first sweep") == "0")
        // The next pass deletes what both found orphan.
        let second = try await sweeps.nextAnHourOn(clock: clock, client: client)
        #expect(second == "0", "the second pass removed \(second ?? "?") keys")
        #expect(try await store.exists(key), "the key of a job whose record does not decode")

        // Readable again (as a coord that reads its format would find it): a live job, not one being removed.
        _ = try await store.set(jobKey, value: record.value, ifVersion: nil)
        #expect(try await !client.isBeingRemoved(try #require(try await client.job("unreadable"))))
    }
}
