import Coordination
import Foundation

/// Turns one fire time (or one trigger) of a job into its run records: one per item, or one per
/// eligible live worker for a broadcast job.
enum RunPlan {
    static func runs(
        of spec: JobSpec, scheduledAt: Date, notBefore: Date, broadcastTo workers: [String],
        id: (Int, String?) -> String
    ) -> [RunRecord] {
        if spec.placement == .broadcast {
            return workers.sorted().map { worker in
                RunRecord(
                    job: spec.id, run: id(0, worker), item: 0, itemCount: 1, itemParameter: spec.parameter(ofItem: 0),
                    scheduledAt: scheduledAt, notBefore: notBefore, assignee: worker)
            }
        }
        return (0..<spec.shards).map { item in
            RunRecord(
                job: spec.id, run: id(item, nil), item: item, itemCount: spec.shards,
                itemParameter: spec.parameter(ofItem: item), scheduledAt: scheduledAt, notBefore: notBefore)
        }
    }

    static func createOperations(_ runs: [RunRecord], layout: SchedulerLayout) throws -> [Coordination.Operation] {
        try runs.map { run in
            .create(try layout.run(run.job, run.run), value: try SchedulerJSON.encode(run), mode: .persistent)
        }
    }

    /// How many run creations go into the transaction that also records the fire time (the
    /// contract's limit leaves room for the state, folders and records beside them). A fenced
    /// job's writes (``IncarnationFence``) take one operation more than those of a job added by
    /// an earlier version, which may have one item more: all its runs still go at once.
    static func firstChunk(fenced: Bool) -> Int { fenced ? JobSpec.maxShards : JobSpec.maxShards + 1 }

    /// ``firstChunk(fenced:)`` for `state`'s job.
    static func firstChunk(of state: JobState) -> Int { firstChunk(fenced: state.fenced) }

    /// What the first transaction of a broadcast records when its runs (`runs`, in worker id
    /// order, of the run id `run` without its worker) do not all fit it: ``continueBroadcasts(of:incarnation:workers:in:layout:)``
    /// creates the rest. `nil` when they fit.
    static func unfinished(_ runs: [RunRecord], run: String, scheduledAt: Date, firstChunk: Int) -> UnfinishedBroadcast? {
        guard runs.count > firstChunk, let last = runs[firstChunk - 1].assignee else { return nil }
        return UnfinishedBroadcast(run: run, scheduledAt: scheduledAt, after: last)
    }

    /// Creates the other runs of the job's unfinished broadcasts, for those of `workers` (the
    /// eligible live ones) whose ids sort after where each broadcast stopped: a chunk per
    /// transaction, with the job's record moving the broadcast on (or ending it) at the version
    /// read. Creating the runs after a transaction that had recorded nothing of them lost them
    /// when the writer stopped between the two (a crash, a lost session, the store unreachable).
    ///
    /// `workers` are those of the job's incarnation `incarnation` (``JobState/incarnation``): a
    /// job removed and added again under its id since is another, whose own workers are not
    /// known here, and is left to whoever finishes its broadcasts (its submitter, the leader).
    @discardableResult
    static func continueBroadcasts(
        of id: String, incarnation: String?, workers: [String], in store: any CoordinationStore, layout: SchedulerLayout
    ) async throws -> BroadcastContinuation {
        let key = try layout.job(id)
        let sorted = workers.sorted()
        var refused: IncarnationFence?
        while true {
            guard let stored = try await store.get(key) else { return .jobRemoved(being: nil) }
            var job = try stored.decoded(JobRecord.self)
            guard job.state.incarnation == incarnation else { return .jobRemoved(being: nil) }
            guard let broadcast = job.state.unfinishedBroadcasts.first else { return .finished }
            let fence = try IncarnationFence(job: id, state: job.state, layout: layout)
            // Its removal is under way when this incarnation's key went before a read of it.
            if let refused, refused == fence { return .jobRemoved(being: fence) }
            let rest = sorted.filter { $0 > broadcast.after }
            let chunk = Array(rest.prefix(firstChunk(of: job.state)))
            if rest.count > chunk.count, let last = chunk.last {
                job.state.unfinishedBroadcasts[0].after = last
            } else {
                job.state.unfinishedBroadcasts.removeFirst()
            }
            let runs = runs(of: job.spec, scheduledAt: broadcast.scheduledAt, notBefore: broadcast.scheduledAt, broadcastTo: chunk) {
                "\(broadcast.run)-\($1 ?? "")"
            }
            do {
                let creates = try createOperations(runs, layout: layout)
                _ = try await store.transaction(fence.checks + [.set(key, value: try job.encoded(), ifVersion: stored.version)] + creates)
            } catch let error as CoordinationError where error.code == .versionConflict && error.failedOperation == fence.checks.count {
                continue  // someone else moved it on (or changed the job) meanwhile: read it again
            } catch let error as CoordinationError where fence.refused(error) {
                refused = fence  // removed, perhaps added again: read it again
            }
        }
    }
}

/// How ``RunPlan/continueBroadcasts(of:incarnation:workers:in:layout:)`` ended.
enum BroadcastContinuation: Sendable, Equatable {
    /// The incarnation has no broadcast left with runs to create: every run was created (here
    /// or by another writer), or a cancel ended the broadcast.
    case finished
    /// The incarnation is gone (removed, perhaps added again as another) or being removed (its
    /// key is gone, `being` its fence): the runs still to be created never will be, and those
    /// created went, or go, with it.
    case jobRemoved(being: IncarnationFence?)
}
