import Coordination

/// What happens in a scheduler, as it happens: for live progress displays (`coord run`, a
/// dashboard). Built from watches, so it converges to the store's state even after a reconnect.
/// Runs (with the claims beneath them, both beneath their jobs) and history are separate watches:
/// a run's end and its history entry may arrive in either order.
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
    public func activity() -> AsyncThrowingStream<SchedulerActivity, any Error> {
        let store = store
        let layout = layout
        enum Source: Sendable {
            case runs(WatchEvent)
            case history(WatchEvent)
        }
        return AsyncThrowingStream { continuation in
            let task = Task {
                do {
                    try await layout.ensureFolders(in: store)
                    let (sources, source) = AsyncThrowingStream<Source, any Error>.makeStream()
                    try await withThrowingTaskGroup(of: Void.self) { group in
                        let runs: @Sendable (WatchEvent) -> Source = { .runs($0) }
                        let history: @Sendable (WatchEvent) -> Source = { .history($0) }
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
                        var tracker = ActivityTracker(layout: layout)
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

        /// Turns watch events into activities; history present at the start is not reported.
        struct ActivityTracker {
            let layout: SchedulerLayout
            /// Run records and the claims beneath them, by key (job definitions left out).
            var runs: [Key: Record] = [:]
            var seenHistory: Set<Key>?

            mutating func apply(_ source: Source) -> [SchedulerActivity] {
                switch source {
                case .runs(let event):
                    let before = runs
                    // The watch of `jobs` carries the job definitions too: only runs and claims are kept.
                    SchedulerView.split(event, layout: layout) { folder, part in
                        if folder == .runs { runs.apply(part) }
                    }
                    var result: [SchedulerActivity] = []
                    // A run changed, or its claim did (a claim gives a running run its token; a
                    // pending record's running version is on its way): each run reported once.
                    var changed: Set<Key> = []
                    for (key, record) in runs where before[key] != record {
                        if let runKey = layout.run(ofClaim: key) {
                            if let run = runs[runKey], (try? run.decoded(RunRecord.self))?.status == .running { changed.insert(runKey) }
                        } else {
                            changed.insert(key)
                        }
                    }
                    for key in changed.sorted() {
                        if let record = runs[key], let active = active(record) { result.append(.run(active)) }
                    }
                    for key in before.keys where runs[key] == nil && layout.isRun(key) {
                        result.append(.runEnded(job: key.parent?.name ?? "", run: key.name))
                    }
                    return result
                case .history(let event):
                    var records: [Key: Record] = [:]
                    switch event {
                    case .snapshot(let all):
                        for record in all { records[record.key] = record }
                    case .put(let record):
                        records[record.key] = record
                    case .delete:
                        return []
                    }
                    let fresh = records.filter { layout.isHistoryEntry($0.key) }
                    defer { seenHistory = (seenHistory ?? []).union(fresh.keys) }
                    guard let seen = seenHistory else { return [] }
                    return fresh.filter { !seen.contains($0.key) }.sorted { $0.key < $1.key }
                        .compactMap { try? $0.value.decoded(HistoryEntry.self) }.map { .finished($0) }
                }
            }

            func active(_ record: Record) -> Scheduler.ActiveRun? {
                guard layout.isRun(record.key), let run = try? record.decoded(RunRecord.self) else { return nil }
                let claim = try? layout.claim(run.job, run.run)
                return Scheduler.ActiveRun(record: run, token: claim.flatMap { runs[$0]?.createRevision }, version: record.version)
            }
        }
    }
}
