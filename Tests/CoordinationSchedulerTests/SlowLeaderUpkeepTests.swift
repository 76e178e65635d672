import Coordination
@testable import CoordinationScheduler
import CoordinationTestSupport
import Foundation
import Testing

/// The leader's occasional passes over the incarnation keys (``IncarnationKeySweep``: a listing
/// of all 64 buckets; ``FenceRestoration``: a read of the key of every job an earlier version
/// added, at each leadership start) made their reads one after another inside the leader's
/// loop: with many jobs, or a slow store, no fire time was materialised and no wake was set
/// until they were over (a `skip` job's fire time due meanwhile was skipped). Each read of the
/// incarnation keys is held here until the test ends: the leader must fire a job all the same.
@Suite(.serverLoadLimit) struct SlowLeaderUpkeepTests {
    static let start = Date(timeIntervalSince1970: 1_800_000_000)

    /// Which of the upkeep's reads the store holds.
    enum HeldRead: String, CaseIterable, Sendable {
        /// The key sweep's listing of an incarnation bucket.
        case listing
        /// Fence restoration's check of a job's incarnation key.
        case existence
    }

    @Test(arguments: SchedulerBackend.all, HeldRead.allCases)
    func aSlowPassOverTheIncarnationKeysHoldsUpNoFireTime(backend: SchedulerBackend, held: HeldRead) async throws {
        let clock = ManualWallClock(Self.start)
        let cluster = try TestCluster(backend, clock: clock.wallClock)
        defer { Task { await cluster.shutdown() } }
        let layout = cluster.layout
        let client = try await cluster.client()
        try await client.submit(JobSpec(id: "due", handler: "noop", schedule: .every(.seconds(60), start: nil)))
        // A job as a version that drew tags but made no keys added it: fence restoration reads
        // whether its key exists, once, at the leadership's start.
        try await client.submit(JobSpec(id: "legacy", handler: "noop", schedule: .every(.seconds(3600), start: nil)))
        let record = try await FenceRestorationTests.unfence("legacy", in: client.store, layout: layout)
        try await client.store.delete(try layout.incarnation(of: "legacy", tag: try #require(record.state.incarnation)), ifVersion: nil)

        let reached = Signal()
        let release = Signal()
        defer { release.fire() }
        try await cluster.startWorker("w0", handlers: ["noop": { _ in RunOutput() }]) {
            HeldIncarnationReadStore(base: $0, incarnations: layout.incarnations, held: held, reached: reached, release: release)
        }
        try await withDeadline("the leader's read of the incarnation keys (\(held.rawValue))") { await reached.wait() }
        try await withDeadline("the leader's wake for the first fire time, its upkeep still waiting for the store") {
            await clock.waitForSleeper(until: Self.start.addingTimeInterval(60))
        }
        clock.advance(by: 60)
        _ = try await cluster.waitForHistory("the first fire time of the due job", successes("due"))
    }
}

/// Holds the reads of incarnation keys that `held` names until `release` fires (firing
/// `reached` when one arrives); everything else goes straight through.
private final class HeldIncarnationReadStore: ForwardingStore {
    let base: any CoordinationStore
    let incarnations: Key
    let held: SlowLeaderUpkeepTests.HeldRead
    let reached: Signal
    let release: Signal

    init(base: any CoordinationStore, incarnations: Key, held: SlowLeaderUpkeepTests.HeldRead, reached: Signal, release: Signal) {
        self.base = base
        self.incarnations = incarnations
        self.held = held
        self.reached = reached
        self.release = release
    }

    private func hold() async {
        reached.fire()
        await release.wait()
    }

    func children(of key: Key) async throws -> [String] {
        if held == .listing && key.parent == incarnations { await hold() }
        return try await base.children(of: key)
    }

    func exists(_ key: Key) async throws -> Bool {
        if held == .existence && key.parent?.parent == incarnations { await hold() }
        return try await base.exists(key)
    }
}
