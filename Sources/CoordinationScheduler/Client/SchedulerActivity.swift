import Coordination
import Foundation

/// What happens in a scheduler, as it happens: for live progress displays (`coord run`, a
/// dashboard). Built from watches, so it converges to the store's state even after a reconnect.
/// Runs (with the claims beneath them, both beneath their jobs) and history are separate watches:
/// a run's end and its history entry may arrive in either order. A run's next attempt (a retry, or
/// a takeover of an abandoned run) is reported after the history entry of the attempt before it,
/// which the same transaction wrote.
public enum SchedulerActivity: Sendable, Hashable {
    /// A run appeared or changed (claimed, progressed, retried, handed back).
    case run(Scheduler.ActiveRun)
    /// A run is no longer active (finished, cancelled, removed).
    case runEnded(job: String, run: String)
    /// An attempt finished or a fire time was skipped: a new history entry.
    case finished(HistoryEntry)
}

extension Scheduler {
    /// Every active run now (as `.run`), then each change, and each new history entry.
    /// - Parameter historySince: history entries already written when the stream starts are
    ///   reported too when they finished at or after this (in the order they finished). A program
    ///   that starts workers and the stream together passes its start, so that a run that ended
    ///   before the stream's watches were up is not missed.
    public func activity(historySince: Date? = nil) -> AsyncThrowingStream<SchedulerActivity, any Error> {
        let store = store
        let layout = layout
        return AsyncThrowingStream { continuation in
            let task = Task {
                do {
                    try await layout.ensureFolders(in: store)
                    let (sources, source) = AsyncThrowingStream<ActivityTracker.Source, any Error>.makeStream()
                    try await withThrowingTaskGroup(of: Void.self) { group in
                        let runs: @Sendable (WatchEvent) -> ActivityTracker.Source = { .runs($0) }
                        let history: @Sendable (WatchEvent) -> ActivityTracker.Source = { .history($0) }
                        let feeds = [(layout.jobs, runs), (layout.history, history)]
                        for (key, wrap) in feeds {
                            group.addTask {
                                do {
                                    for try await event in store.watch(key, scope: .subtree) { source.yield(wrap(event)) }
                                } catch {
                                    source.finish(throwing: error)
                                }
                            }
                        }
                        var tracker = ActivityTracker(layout: layout, historySince: historySince)
                        for try await next in sources {
                            for activity in tracker.apply(next) { continuation.yield(activity) }
                        }
                        group.cancelAll()
                    }
                    continuation.finish()
                } catch {
                    continuation.finish(throwing: error)
                }
            }
            continuation.onTermination = { _ in task.cancel() }
        }
    }
}
