import Coordination
import Foundation

/// Turns the events of the two watches behind ``Scheduler/activity(historySince:)`` (runs,
/// history) into activities. History present when the stream starts is reported only from
/// `historySince` on.
///
/// The two watches deliver independently, so a run's next attempt could arrive before the history
/// entry of the attempt before it, though one transaction wrote both: a live log then showed a
/// retry pending before the failure that caused it. A run change whose attempt rose is therefore
/// held until the history entry of the attempt before has been reported, and the run's later
/// changes, its end included, wait behind it. The wait is for the entry of that run and attempt,
/// not of a revision: ZooKeeper may coalesce a retry with its claim, and the run's revision is
/// then the claim's. Nothing is held for good: a deleted history entry not seen yet (created and
/// trimmed between two reads, or its job removed) or a fresh history snapshot lets out what the
/// job's runs held, as the entry awaited may be gone.
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
    /// Held changes by run, in order, each with the attempt whose history entry it waits for
    /// (`nil`: none of its own, only for those before it). The first always waits for one.
    private var held: [Key: [(awaiting: Attempt?, activity: SchedulerActivity)]] = [:]
    /// The attempts of the latest history entries reported, so that a new attempt arriving after
    /// the entry of the one before is not held.
    private var reportedHistory = RecentSet<Attempt>(capacity: 4096)

    /// How many history entries this remembers having seen (for tests: bounded by the store's).
    var historyKeysKept: Int { seenHistory?.count ?? 0 }

    /// One attempt of one run.
    private struct Attempt: Hashable {
        var job: String
        var run: String
        var number: Int
    }

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
            let awaited = Attempt(job: active.record.job, run: active.record.run, number: active.record.attempt - 1)
            // A retry of a retry behind a held one waits for its own failure's entry too.
            let rose = before[key].flatMap { try? $0.decoded(RunRecord.self) }.map { active.record.attempt > $0.attempt } ?? false
            let awaiting = rose && !reportedHistory.contains(awaited) ? awaited : nil
            if held[key] != nil || awaiting != nil {
                held[key, default: []].append((awaiting, .run(active)))
            } else {
                result.append(.run(active))
            }
        }
        for key in before.keys where runs[key] == nil && layout.isRun(key) {
            let ended = SchedulerActivity.runEnded(job: key.parent?.name ?? "", run: key.name)
            if held[key] != nil {
                held[key]?.append((nil, ended))
            } else {
                result.append(ended)
            }
        }
        return result
    }

    /// The held activities of runs of `job` (every job's, when `nil`), now let out.
    private mutating func release(job: String?) -> [SchedulerActivity] {
        let freed = held.filter { job == nil || $0.value.first?.awaiting?.job == job }.sorted { $0.key < $1.key }
        for (key, _) in freed { held[key] = nil }
        return freed.flatMap { $0.value.map(\.activity) }
    }

    private mutating func historyChanged(_ event: WatchEvent) -> [SchedulerActivity] {
        var records: [Key: Record] = [:]
        let resync: Bool
        switch event {
        case .snapshot(let all):
            for record in all { records[record.key] = record }
            resync = seenHistory != nil
        case .put(let record):
            records[record.key] = record
            resync = false
        case .delete(let key):
            // Forgotten, or what is kept would grow with every entry the store ever trimmed.
            if layout.isHistoryEntry(key) {
                // Seen, it let out what waited for it then: a trim (of a full history, by any run's
                // write) that the watch delivers while a retry waits must not let that out.
                if seenHistory?.remove(key) != nil { return [] }
            } else {
                seenHistory = seenHistory?.filter { !$0.isUnder(key) }
            }
            // The entry a run waits for may be the one deleted, unread.
            return layout.jobID(of: key, in: layout.history).map { release(job: $0) } ?? release(job: nil)
        }
        let fresh = records.filter { layout.isHistoryEntry($0.key) }
        // A snapshot is the whole history: what it lacks was deleted during the gap.
        defer { seenHistory = (resync ? [] : seenHistory ?? []).union(fresh.keys) }
        let seen = seenHistory ?? []
        // At the start only what finished since `historySince` is reported, in the order it finished.
        let starting = seenHistory == nil
        var entries: [(record: Record, entry: HistoryEntry, reported: Bool)] = []
        for record in fresh.values where !seen.contains(record.key) {
            guard let entry = try? record.decoded(HistoryEntry.self) else { continue }
            let reported = !starting || historySince.map { entry.finishedAt >= $0 } ?? false
            entries.append((record, entry, reported))
        }
        entries.sort { starting && $0.entry.finishedAt != $1.entry.finishedAt ? $0.entry.finishedAt < $1.entry.finishedAt : $0.record.key < $1.record.key }
        var result: [SchedulerActivity] = []
        for (_, entry, reported) in entries {
            if reported { result.append(.finished(entry)) }
            // An entry left unreported still lets out the runs that wait for it.
            guard let run = entry.run, let number = entry.attempt else { continue }
            reportedHistory.insert(Attempt(job: entry.job, run: run, number: number))
            for (key, waiting) in held.sorted(by: { $0.key < $1.key })
            where waiting.first?.awaiting.map({ $0.job == entry.job && $0.run == run && $0.number <= number }) ?? false {
                // Up to the next change that waits for a later attempt's entry, not yet reported.
                var rest = waiting[...]
                while let (awaiting, activity) = rest.first,
                    awaiting.map({ $0.number <= number || reportedHistory.contains($0) }) ?? true
                {
                    result.append(activity)
                    rest = rest.dropFirst()
                }
                held[key] = rest.isEmpty ? nil : Array(rest)
            }
        }
        // After a gap in the history watch, the entry a run waits for may have come and gone.
        if resync { result += release(job: nil) }
        return result
    }

    private func active(_ record: Record) -> Scheduler.ActiveRun? {
        guard layout.isRun(record.key), let run = try? record.decoded(RunRecord.self) else { return nil }
        let claim = try? layout.claim(run.job, run.run)
        return Scheduler.ActiveRun(record: run, token: claim.flatMap { runs[$0]?.createRevision }, version: record.version)
    }
}

/// A set of the last `capacity` elements inserted.
private struct RecentSet<Element: Hashable> {
    let capacity: Int
    private var members: Set<Element> = []
    private var order: [Element] = []
    private var oldest = 0

    init(capacity: Int) { self.capacity = capacity }

    func contains(_ element: Element) -> Bool { members.contains(element) }

    mutating func insert(_ element: Element) {
        guard members.insert(element).inserted else { return }
        if order.count < capacity {
            order.append(element)
        } else {
            members.remove(order[oldest])
            order[oldest] = element
            oldest = (oldest + 1) % capacity
        }
    }
}
