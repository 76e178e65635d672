import Coordination
import Foundation

/// Cancels active runs: a pending run is deleted with a `cancelled` history entry; a running one
/// gets `cancelRequested`, and its worker stops it and records `cancelled`. Every write is a
/// compare-and-set on the run's version, so it never undoes a concurrent claim or completion.
struct RunCanceller: Sendable {
    let store: any CoordinationStore
    let layout: SchedulerLayout
    let now: @Sendable () -> Date

    func cancelActiveRuns(of job: String, reason: String) async throws {
        let folder = try layout.runs(of: job)
        guard try await store.exists(folder) else { return }
        for name in try await store.children(of: folder) {
            try await cancel(job: job, run: name, reason: reason)
        }
    }

    /// Cancels one run; returns when it is deleted or marked, or was already gone.
    func cancel(job: String, run: String, reason: String) async throws {
        let key = try layout.run(job, run)
        let history = HistoryWriter(store: store, layout: layout)
        while true {
            guard let record = try await store.get(key) else { return }
            var value = try record.decoded(RunRecord.self)
            do {
                switch value.status {
                case .pending:
                    let entry = HistoryEntry(
                        job: job, run: run, item: value.item, attempt: value.attempt, scheduledAt: value.scheduledAt,
                        finishedAt: now(), outcome: .cancelled, message: reason)
                    try await history.transact(job: job, entries: [entry]) {
                        [.check(key, version: record.version), .delete(key, ifVersion: record.version)]
                    }
                case .running:
                    if value.cancelRequested { return }
                    value.cancelRequested = true
                    _ = try await store.set(key, value: try SchedulerJSON.encode(value), ifVersion: record.version)
                }
                return
            } catch let error as CoordinationError where error.code == .versionConflict || error.code == .noNode {
                continue  // it changed (claimed, completed) meanwhile: look again
            }
        }
    }
}
