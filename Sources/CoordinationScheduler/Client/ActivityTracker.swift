import Coordination
import Foundation

/// Turns the events of the two watches behind ``Scheduler/activity(historySince:)`` (runs,
/// history) into activities. History present when the stream starts is reported only from
/// `historySince` on.
///
/// The two watches deliver independently, so a run's next attempt could arrive before the history
/// entry of the attempt before it, though one transaction wrote both (at one revision): a live
/// log then showed a retry pending before the failure that caused it. A run change whose attempt
/// rose is therefore held until the history entry written at its revision has been reported, and
/// the run's later changes wait behind it. Nothing is held for good: a run that ends lets out
/// what it held, before its end.
struct ActivityTracker {
    enum Source: Sendable {
        case runs(WatchEvent)
        case history(WatchEvent)
    }

    let layout: SchedulerLayout
    /// History entries already there when the stream starts are reported when they finished at or
    /// after this (`nil`: none are).
    let historySince: Date?
    /// Run records and the claims beneath them, by key (job definitions left out).
    private var runs: [Key: Record] = [:]
    private var seenHistory: Set<Key>?
    /// Held changes by run: the revision whose history entry they wait for, and the activities in order.
    private var held: [Key: (revision: Int64, activities: [SchedulerActivity])] = [:]
    /// The revisions of the latest history entries reported, so that a new attempt arriving after
    /// its entry is not held.
    private var reportedHistory = RecentRevisions(capacity: 4096)

    init(layout: SchedulerLayout, historySince: Date? = nil) {
        self.layout = layout
        self.historySince = historySince
    }

    mutating func apply(_ source: Source) -> [SchedulerActivity] {
        switch source {
        case .runs(let event): runsChanged(event)
        case .history(let event): historyChanged(event)
        }
    }

    private mutating func runsChanged(_ event: WatchEvent) -> [SchedulerActivity] {
        let before = runs
        // The watch of `jobs` carries the job definitions too: only runs and claims are kept.
        SchedulerView.split(event, layout: layout) { folder, part in
            if folder == .runs { runs.apply(part) }
        }
        var result: [SchedulerActivity] = []
        // A run changed, or its claim did (a claim gives a running run its token; a pending
        // record's running version is on its way): each run reported once.
        var changed: Set<Key> = []
        for (key, record) in runs where before[key] != record {
            if let runKey = layout.run(ofClaim: key) {
                if let run = runs[runKey], (try? run.decoded(RunRecord.self))?.status == .running { changed.insert(runKey) }
            } else {
                changed.insert(key)
            }
        }
        for key in changed.sorted() {
            guard let record = runs[key], let active = active(record) else { continue }
            if var waiting = held[key] {
                waiting.activities.append(.run(active))
                held[key] = waiting
            } else if let previous = before[key].flatMap({ try? $0.decoded(RunRecord.self) }),
                active.record.attempt > previous.attempt, !reportedHistory.contains(record.modRevision)
            {
                held[key] = (record.modRevision, [.run(active)])
            } else {
                result.append(.run(active))
            }
        }
        for key in before.keys where runs[key] == nil && layout.isRun(key) {
            if let waiting = held.removeValue(forKey: key) { result += waiting.activities }
            result.append(.runEnded(job: key.parent?.name ?? "", run: key.name))
        }
        return result
    }

    private mutating func historyChanged(_ event: WatchEvent) -> [SchedulerActivity] {
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
        let seen = seenHistory ?? []
        // At the start only what finished since `historySince`, in the order it finished.
        let starting = seenHistory == nil
        if starting && historySince == nil { return [] }
        var entries: [(record: Record, entry: HistoryEntry)] = []
        for record in fresh.values where !seen.contains(record.key) {
            guard let entry = try? record.decoded(HistoryEntry.self) else { continue }
            if starting, let since = historySince, entry.finishedAt < since { continue }
            entries.append((record, entry))
        }
        entries.sort { starting && $0.entry.finishedAt != $1.entry.finishedAt ? $0.entry.finishedAt < $1.entry.finishedAt : $0.record.key < $1.record.key }
        var result: [SchedulerActivity] = []
        for (record, entry) in entries {
            result.append(.finished(entry))
            reportedHistory.insert(record.createRevision)
            for (key, waiting) in held where waiting.revision == record.createRevision {
                result += waiting.activities
                held[key] = nil
            }
        }
        return result
    }

    private func active(_ record: Record) -> Scheduler.ActiveRun? {
        guard layout.isRun(record.key), let run = try? record.decoded(RunRecord.self) else { return nil }
        let claim = try? layout.claim(run.job, run.run)
        return Scheduler.ActiveRun(record: run, token: claim.flatMap { runs[$0]?.createRevision }, version: record.version)
    }
}

/// A set of the last `capacity` revisions inserted.
private struct RecentRevisions {
    let capacity: Int
    private var members: Set<Int64> = []
    private var order: [Int64] = []
    private var oldest = 0

    init(capacity: Int) { self.capacity = capacity }

    func contains(_ revision: Int64) -> Bool { members.contains(revision) }

    mutating func insert(_ revision: Int64) {
        guard members.insert(revision).inserted else { return }
        if order.count < capacity {
            order.append(revision)
        } else {
            members.remove(order[oldest])
            order[oldest] = revision
            oldest = (oldest + 1) % capacity
        }
    }
}
