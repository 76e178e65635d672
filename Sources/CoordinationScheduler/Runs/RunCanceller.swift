import Coordination
import Foundation

/// Cancels active runs: a pending run is deleted with a `cancelled` history entry; a running one
/// gets `cancelRequested`, and its worker stops it and records `cancelled`. Either entry's
/// message is the reason given (a running run's record carries it to its worker). Every write is
/// a compare-and-set on the run's version, so it never undoes a concurrent claim or completion.
struct RunCanceller: Sendable {
    let store: any CoordinationStore
    let layout: SchedulerLayout
    let now: @Sendable () -> Date

    /// What cancelling one run did.
    enum Outcome: Sendable, Hashable {
        /// It was pending: removed, with a `cancelled` history entry.
        case removed
        /// It was running: its worker was asked to stop it.
        case askedToStop
        /// Nothing: it was gone, or already asked to stop.
        case nothing
    }

    /// Cancels every active run of `job`; returns what was done to each, by run id.
    @discardableResult
    func cancelActiveRuns(of job: String, reason: String) async throws -> [String: Outcome] {
        let folder = try layout.runs(of: job)
        guard try await store.exists(folder) else { return [:] }
        var outcomes: [String: Outcome] = [:]
        for name in try await store.children(of: folder) {
            outcomes[name] = try await cancel(job: job, run: name, reason: reason)
        }
        return outcomes
    }

    /// Cancels one run; returns when it is deleted or marked, or was already gone.
    ///
    /// Each write also applies `provided` (checks), all or nothing: when one of them fails, its
    /// error is thrown and nothing is cancelled. The leader passes a check of the job's state, so
    /// that a stale view replaying a fire time it already materialised cannot cancel that fire
    /// time's own run.
    @discardableResult
    func cancel(job: String, run: String, reason: String, provided: [Coordination.Operation] = []) async throws -> Outcome {
        let key = try layout.run(job, run)
        let history = HistoryWriter(store: store, layout: layout)
        while true {
            guard let record = try await store.get(key) else { return .nothing }
            var value = try record.decoded(RunRecord.self)
            // The run's own writes come first; a failure past them is one of `provided`.
            let ownCount = value.status == .pending ? 2 : 1
            do {
                switch value.status {
                case .pending:
                    let entry = HistoryEntry(
                        job: job, run: run, item: value.item, attempt: value.attempt, scheduledAt: value.scheduledAt,
                        finishedAt: now(), outcome: .cancelled, message: reason)
                    try await history.transact(job: job, entries: [entry]) {
                        [.check(key, version: record.version), .delete(key, ifVersion: record.version)] + provided
                    }
                    return .removed
                case .running:
                    if value.cancelRequested { return .nothing }
                    value.token = value.attemptToken(version: record.version, modRevision: record.modRevision)
                    value.cancelRequested = true
                    value.cancelReason = reason
                    _ = try await store.transaction(
                        [.set(key, value: try SchedulerJSON.encode(value), ifVersion: record.version)] + provided)
                    return .askedToStop
                }
            } catch let error as CoordinationError
                where (error.code == .versionConflict || error.code == .noNode) && (error.failedOperation ?? 0) < ownCount
            {
                continue  // it changed (claimed, completed) meanwhile: look again
            }
        }
    }
}
