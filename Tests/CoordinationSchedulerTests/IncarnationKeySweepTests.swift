import Coordination
@testable import CoordinationScheduler
import CoordinationTestSupport
import Foundation
import Testing

/// Incarnation keys whose job's record is gone or holds another tag (left by an earlier coord
/// that rewrote or removed a job, or by removing a job whose record did not decode) were never
/// removed. The leader sweeps them (``IncarnationKeySweep``) and keeps the live jobs' keys, and
/// a key that came ahead of its record (as `coord migrate` copies, `incarnations` before `jobs`):
/// only a key found orphan by two passes an hour apart goes.
@Suite(.serverLoadLimit) struct IncarnationKeySweepTests {
    static let start = Date(timeIntervalSince1970: 1_800_000_000)

    @Test(arguments: SchedulerBackend.all)
    func theLeaderRemovesOrphanKeysAndKeepsLiveOnes(backend: SchedulerBackend) async throws {
        let clock = ManualWallClock(Self.start)
        let cluster = try TestCluster(backend, clock: clock.wallClock)
        defer { Task { await cluster.shutdown() } }
        let layout = cluster.layout
        let client = try await cluster.client()
        let store = client.store
        try await client.submit(JobSpec(id: "live", handler: "noop", schedule: .every(.seconds(3600), start: nil)))
        let liveKey = try layout.incarnation(of: "live", tag: try #require(try await client.job("live")?.state.incarnation))
        // A job whose record is not there yet, as a migration's copy brings its key first.
        try await client.submit(JobSpec(id: "copied", handler: "noop", schedule: .every(.seconds(3600), start: nil)))
        let copiedRecord = try #require(try await store.get(try layout.job("copied")))
        let copiedKey = try layout.incarnation(of: "copied", tag: try #require(try copiedRecord.decoded(JobRecord.self).state.incarnation))
        try await store.delete(try layout.job("copied"), ifVersion: nil, recursive: true)
        let orphans = [
            try layout.incarnation(of: "gone", tag: "aaaaaa"),  // no record at all
            try layout.incarnation(of: "live", tag: "bbbbbb"),  // a record of another incarnation
        ]
        for key in orphans { _ = try await store.create(key, value: [], mode: .persistent) }

        let sweeps = try await KeySweeps.start(on: cluster)
        let first = try await sweeps.next("the leader's first sweep")
        #expect(first == "0", "a first pass only suspects")
        for key in orphans + [copiedKey, liveKey] { #expect(try await store.exists(key), "\(key) after the first pass") }

        // The copy brings the record; an hour on, a change wakes the leader for its next pass.
        _ = try await store.create(try layout.job("copied"), value: copiedRecord.value, mode: .persistent)
        let second = try await sweeps.nextAnHourOn(clock: clock, client: client)
        #expect(second == "2")
        for key in orphans { #expect(try await !store.exists(key), "\(key) after the second pass") }
        #expect(try await store.exists(liveKey))
        #expect(try await store.exists(copiedKey), "a key whose record came after the first pass is kept")
        #expect(try await !client.isBeingRemoved(try #require(try await client.job("copied"))))
    }

    @Test func namesThatAreNoIncarnationKeyAreLeftAlone() {
        #expect(IncarnationKeySweep.split("aaaaaa-a-b").map { "\($0.tag) \($0.job)" } == "aaaaaa a-b")
        #expect(IncarnationKeySweep.split("aaaaa-job") == nil)
        #expect(IncarnationKeySweep.split("aaaaaa-") == nil)
    }
}

/// The leader's incarnation key sweeps, as a worker started here logs them: how many keys each
/// pass removed.
struct KeySweeps {
    let removed: AsyncStream<String>

    /// Starts a worker (the leader) on `cluster` whose sweeps are observed.
    /// - Parameter quiet: whether the leader's only wakes are its jobs' fire times and changes:
    ///   no finished-job sweep every minute, and the membership stabilisation's wake at once
    ///   rather than half a second into the test.
    static func start(on cluster: TestCluster, quiet: Bool = false) async throws -> KeySweeps {
        let sweeps = AsyncStream.makeStream(of: String.self)
        let configuration = Worker.Configuration()
        try await cluster.startWorker(
            "w0", finishedJobRetention: quiet ? nil : configuration.finishedJobRetention,
            finishedJobLimit: quiet ? nil : configuration.finishedJobLimit, stabilisation: quiet ? .zero : configuration.stabilisation,
            handlers: ["noop": { _ in RunOutput() }],
            logger: ObservingLogger.make { message in
                if message.text == "incarnation key sweep done" { sweeps.continuation.yield("\(message.metadata["removed"] ?? "?")") }
            })
        return KeySweeps(removed: sweeps.stream)
    }

    /// The next pass's count of removed keys (read by one waiter at a time).
    func next(_ what: String) async throws -> String? {
        try await withDeadline(what) {
            for await count in removed { return count }
            return nil
        }
    }

    /// The pass an hour on: the clock moves, and a submission wakes the leader for it.
    func nextAnHourOn(clock: ManualWallClock, client: Scheduler) async throws -> String? {
        clock.advance(by: IncarnationKeySweep.interval)
        try await client.submit(JobSpec(id: "wake", handler: "noop", schedule: .every(.seconds(3600), start: nil)))
        return try await next("the leader's sweep an hour on")
    }
}
