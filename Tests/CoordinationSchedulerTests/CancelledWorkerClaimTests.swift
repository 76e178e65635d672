import Coordination
import CoordinationTestSupport
@testable import CoordinationScheduler
import Foundation
import Logging
import Synchronization
import Testing

/// A worker cancelled outright (its task cancelled, no graceful shutdown) while a claim of its
/// waits out the load delay (``Worker/Configuration/loadDelay``). The cancellation ends that wait
/// early; the claim must not be sent then, or the run is claimed only to be handed back at once.
@Suite(.serverLoadLimit) struct CancelledWorkerClaimTests {
    /// The worker claimed the run after its cancellation.
    @Test(arguments: SchedulerBackend.all)
    func aWorkerCancelledDuringTheLoadDelayClaimsNothingMore(backend: SchedulerBackend) async throws {
        let cluster = try TestCluster(backend)
        defer { Task { await cluster.shutdown() } }
        let client = try await cluster.client()
        // Two items make the job wide (every worker watches its bucket), so that the load delay
        // applies to it. The second claim of a worker with two slots waits half the delay.
        try await client.submit(JobSpec(id: "job", handler: "work", shards: 2))
        // Free slots elsewhere (a worker that cannot run the job) mean no backlog, which would skip
        // the delay. It leads and lists the job's bucket as wide before the worker under test starts:
        // a list without it would make the job narrow, and skip the delay too.
        try await cluster.startWorker("bystander", capacity: 4, handlers: ["other": { _ in RunOutput() }])
        try await Self.waitUntilWide("job", cluster: cluster)

        let store = ClaimRecordingStore(try await cluster.open(), layout: cluster.layout)
        let delays = AsyncStream.makeStream(of: String.self)
        let worker = try Worker(
            store: store, layout: cluster.layout, id: "worker",
            configuration: Worker.Configuration(capacity: 2, loadDelay: .seconds(3600)),
            handlers: ["work": { _ in
                try await Task.sleep(for: .seconds(3600))  // until the worker's cancellation stops it
                return RunOutput()
            }],
            logger: ObservingLogger.make(label: "test.cancelled-worker") { message in
                if message.text.hasPrefix("waiting out the load delay"), let run = message.metadata["run"] { delays.continuation.yield("\(run)") }
            })
        let running = Task { try await worker.run() }
        let delayed = try await withDeadline("a claim to wait out the load delay") {
            for await run in delays.stream { return run }
            throw CoordinationError(.unavailable, "the log ended")
        }
        // The other item's claim races the delayed one's log line: under load it may not have
        // been sent yet, and a cancellation before it is sent rightly stops it too.
        try await withDeadline("the other item's claim to be sent") {
            for await _ in store.claims { return }
            throw CoordinationError(.unavailable, "the claims stream ended")
        }

        running.cancel()
        try await withDeadline("the cancelled worker to stop") {
            try await withTaskCancellationHandler { try await running.value } onCancel: { running.cancel() }
        }
        let claimed = store.claimedRuns.map { "\($0)" }
        #expect(claimed.count == 1, "the other item's claim, which had no delay, is the only one: \(claimed)")
        #expect(!claimed.contains(delayed), "the run whose claim waited out the delay was claimed after the cancellation")
        let runs = try await client.activeRuns(of: "job")
        #expect(runs.map(\.record.status) == [.pending, .pending])
        #expect(runs.map(\.record.attempt) == [1, 1])
    }

    /// Waits (on a watch of the leader's list) until `job`'s bucket is listed as wide.
    static func waitUntilWide(_ job: String, cluster: TestCluster) async throws {
        let store = try await cluster.open()
        let key = cluster.layout.wideBuckets
        let bucket = SchedulerLayout.bucket(of: job)
        try await withDeadline("the leader to list \(job)'s bucket as wide") {
            for try await event in store.watch(key, scope: .key) {
                var records: [Key: Record] = [:]
                records.apply(event)
                if let record = records[key], let buckets = try? JSONDecoder().decode([String].self, from: Data(record.value)),
                    buckets.contains(bucket)
                {
                    return
                }
            }
            throw CoordinationError(.unavailable, "the watch of the wide buckets ended")
        }
    }
}

/// Records the runs whose claim a transaction creates, as the transaction is sent.
private final class ClaimRecordingStore: ForwardingStore {
    let base: any CoordinationStore
    private let layout: SchedulerLayout
    private let claimed = Mutex<[Key]>([])
    private let sent = AsyncStream.makeStream(of: Key.self, bufferingPolicy: .unbounded)

    /// Each run key whose claim is sent, as it is sent.
    var claims: AsyncStream<Key> { sent.stream }

    init(_ base: any CoordinationStore, layout: SchedulerLayout) {
        self.base = base
        self.layout = layout
    }

    /// The run keys claimed so far, in the order their claims were sent.
    var claimedRuns: [Key] { claimed.withLock { $0 } }

    func transaction(_ operations: [Coordination.Operation]) async throws -> [OperationResult] {
        let runs = operations.compactMap { operation -> Key? in
            guard case .create(let key, _, _) = operation else { return nil }
            return layout.run(ofClaim: key)
        }
        claimed.withLock { $0 += runs }
        for run in runs { sent.continuation.yield(run) }
        return try await base.transaction(operations)
    }
}
