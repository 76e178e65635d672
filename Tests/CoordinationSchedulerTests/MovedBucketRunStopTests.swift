import Coordination
import CoordinationRecipes
@testable import CoordinationScheduler
import CoordinationTestSupport
import Foundation
import Synchronization
import Testing

/// A worker that neither leads nor helps watches only its share of the job buckets
/// (``BucketShare``), and the buckets of the runs it is running. When a peer joins and the
/// bucket of such a run moves to it, the worker must go on watching that bucket: a cancel request
/// or the job's removal reaches the run only there. (Left out of the watched set, the handler ran
/// on after both, and no other scheduler test noticed: a mutation audit found it.)
@Suite(.serverLoadLimit) struct MovedBucketRunStopTests {
    enum Stop: String, CaseIterable, Sendable { case cancel, remove }

    /// Fires `narrowed` when, once armed, the worker opens a watch of a single job bucket: its
    /// watches of the jobs have just started over on its share, no longer every bucket.
    final class BucketWatchSpy: ForwardingStore {
        let base: any CoordinationStore
        let layout: SchedulerLayout
        let armed = Mutex(false)
        let narrowed = Signal()

        init(_ base: any CoordinationStore, layout: SchedulerLayout) {
            self.base = base
            self.layout = layout
        }

        func watch(_ key: Key, scope: WatchScope) -> AsyncThrowingStream<WatchEvent, any Error> {
            if key.parent == layout.jobs && armed.withLock({ $0 }) { narrowed.fire() }
            return base.watch(key, scope: scope)
        }
    }

    /// A job id whose bucket `joining` owns once it joins `running` in their class.
    static func jobMovingOnJoin(from running: String, to joining: String, info: WorkerInfo) throws -> String {
        let members = [running: info, joining: info]
        let moving = BucketShare.owned(by: joining, info: info, members: members)
        return try #require((0..<1000).lazy.map { "job-\($0)" }.first { moving.contains(SchedulerLayout.bucket(of: $0)) })
    }

    @Test(arguments: SchedulerBackend.all, Stop.allCases)
    func aRunWhoseBucketMovedToAJoiningPeerStillStops(backend: SchedulerBackend, stop: Stop) async throws {
        let cluster = try TestCluster(backend)
        defer { Task { await cluster.shutdown() } }
        let layout = cluster.layout
        // The leader watches every job for its duties: it has no handler for the job, so that the
        // run goes to a worker that watches its share only.
        try await cluster.startWorker("leader", handlers: ["other": { _ in RunOutput() }])
        let election = LeaderElection(store: try await cluster.open(), path: layout.leader, identity: "observer")
        try await withDeadline("the first worker to lead") {
            for try await leader in election.leaders() where leader?.identityString == "leader" { return }
        }
        let (waits, started, cancelled) = RemovedJobRunTests.waitsUntilCancelled()
        let job = try Self.jobMovingOnJoin(
            from: "running", to: "joining", info: WorkerInfo(capacity: 4, weight: 1, labels: [:], handlers: ["wait"]))
        let spy = Shared<BucketWatchSpy?>(nil)
        // Never helping: with a slot free it would otherwise watch every bucket after a while.
        try await cluster.startWorker("running", helpAfterIdle: nil, handlers: ["wait": waits]) { base in
            let store = BucketWatchSpy(base, layout: layout)
            spy.withLock { $0 = store }
            return store
        }
        let client = try await cluster.client()
        try await client.submit(JobSpec(id: job, handler: "wait"))
        try await withDeadline("the run to start") { await started.wait() }
        let watcher = try #require(spy.value)
        // Alone in its class, the worker owned (and watched) every bucket until now.
        watcher.armed.withLock { $0 = true }
        try await cluster.startWorker("joining", helpAfterIdle: nil, handlers: ["wait": waits])
        try await withDeadline("the running worker to watch its share only") { await watcher.narrowed.wait() }

        switch stop {
        case .cancel:
            let asked = try await client.cancel(job)
            #expect(asked.askedToStop.count == 1, "\(asked)")
        case .remove:
            try await client.remove(job)
        }
        try await withDeadline("the handler of the run whose bucket moved to be cancelled") { await cancelled.wait() }
        if stop == .cancel {
            let history = try await cluster.waitForHistory("the run's end") { !$0.isEmpty }
            #expect(history.map(\.outcome) == [.cancelled] && history.map(\.worker) == ["running"], "\(history)")
        }
    }
}
