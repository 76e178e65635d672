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
    /// contract's limit leaves room for the state, folders and records beside them).
    static let firstChunk = JobSpec.maxShards

    /// Creates the runs that did not fit the first transaction (only a broadcast to more than
    /// ``firstChunk`` workers has any), in chunks; a chunk that exists already is skipped.
    static func createRemaining(_ creates: [Coordination.Operation], in store: any CoordinationStore) async throws {
        for start in stride(from: firstChunk, to: creates.count, by: firstChunk) {
            let chunk = Array(creates[start..<min(creates.count, start + firstChunk)])
            do {
                _ = try await store.transaction(chunk)
            } catch let error as CoordinationError where error.code == .nodeExists {}
        }
    }
}
