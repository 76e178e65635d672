import Coordination
import Foundation
import Logging

/// The leader's removal of finished one-shot jobs once ``Worker/Configuration/finishedJobRetention``
/// has passed since they finished, or once more than ``Worker/Configuration/finishedJobLimit``
/// finished jobs are kept (those that finished first go first), so that a scheduler fed one-shot
/// jobs for months does not keep every one of them (and every worker's view of them) forever.
///
/// A one-shot job is finished when it has no active run and a history entry; it finished at its
/// newest entry's `finishedAt`, read once per job record the view shows (``JobRecordRevision``:
/// a job triggered again, or removed and added again under its id, has finished anew). The removal is one transaction that deletes the
/// job's key (its runs live beneath it) at the version the sweep saw and without `recursive`,
/// so a job triggered again meanwhile (a new run, a new state in its record) is left alone. A job
/// removed and added again under its id starts over at that version, which the transaction cannot
/// tell apart (its checks are of versions): the record is read just before, after the history's
/// entries, and a creation other than the one the view saw is left alone. One made between that
/// read and the transaction is another incarnation: the transaction deletes the finished one's
/// incarnation key (``IncarnationFence``), which fails once that is removed. (A job added by an
/// earlier version has no such key: for it, the history made again catches most of those,
/// where the deletion of the finished job's entries fails.) Each pass
/// reads and removes a bounded number of jobs, so a large backlog never keeps the leader from its
/// fire times for long.
struct FinishedJobSweep {
    /// `nil`: kept however long ago they finished.
    let retention: Duration?
    /// `nil`: kept however many there are.
    let limit: Int?
    let store: any CoordinationStore
    let layout: SchedulerLayout
    let logger: Logger

    /// When each finished one-shot job finished, by job id, with the job's record it was read
    /// for: a job removed and added again under the id (at the same version), or triggered
    /// again, may have finished since, and is read again.
    private var finishedAt: [String: (date: Date, record: JobRecordRevision)] = [:]
    /// Jobs removed here that the view may still show, as it showed them: a job added again
    /// under the id is another record, and is not taken for one of these.
    private var removed: [String: JobRecordRevision] = [:]
    /// Jobs whose history could not be read or whose removal failed, left alone until the next
    /// regular look: a job that keeps failing must not turn the passes into a busy loop.
    private var retryAfter: [String: Date] = [:]
    /// No pass before this.
    private var notBefore: Date?

    static let readsPerPass = 100
    static let removalsPerPass = 20
    /// Most history entries deleted by one transaction (the removal's other operations, and the checks of the job and its incarnation, fit beside).
    static let entriesPerTransaction = CoordinationLimits.maxTransactionOperations - 5

    init(retention: Duration?, limit: Int?, store: any CoordinationStore, layout: SchedulerLayout, logger: Logger) {
        self.retention = retention
        self.limit = limit
        self.store = store
        self.layout = layout
        self.logger = logger
    }

    /// How often finished jobs are looked for: new ones are noticed within this.
    var interval: TimeInterval { min(60, max(1, (retention?.seconds ?? 240) / 4)) }

    /// Reads when newly finished jobs finished and removes those kept long enough; returns when
    /// to look again.
    mutating func pass(view: SchedulerView, now: Date) async -> Date {
        if let notBefore, now < notBefore { return notBefore }
        var finished: [String: JobRecordRevision] = [:]
        var fences: [String: IncarnationFence] = [:]
        for (id, spec) in view.specs where !spec.schedule.isRecurring && view.runs(ofJob: id).isEmpty {
            // Not while a broadcast's other runs are still to come.
            if let (state, _) = view.state(of: id), state.unfinishedBroadcasts.isEmpty,
                let fence = try? IncarnationFence(job: id, state: state, layout: layout)
            {
                finished[id] = view.revisionOfRecord(of: id)
                fences[id] = fence
            }
        }
        removed = removed.filter { finished[$0.key] == $0.value }
        for id in removed.keys { finished[id] = nil }
        retryAfter = retryAfter.filter { finished[$0.key] != nil && now < $0.value }
        finishedAt = finishedAt.filter { finished[$0.key] == $0.value.record }
        var unread = finished.keys.filter { finishedAt[$0] == nil && retryAfter[$0] == nil }.sorted()
        let more = unread.count > Self.readsPerPass
        unread = Array(unread.prefix(Self.readsPerPass))
        let later = now.addingTimeInterval(interval)
        for id in unread {
            if let date = await newestFinish(of: id), let record = finished[id] {
                finishedAt[id] = (date, record)
            } else {
                retryAfter[id] = later
            }
        }
        var due = finishedAt.mapValues(\.date).filter { entry in retention.map { now.timeIntervalSince(entry.value) >= $0.seconds } ?? false }
        if let limit, finished.count > limit, !more {
            // Over the bound, once every finished job's finish time is known: the ones that
            // finished first go too, however recently.
            for (id, read) in finishedAt.sorted(by: { $0.value.date < $1.value.date }).prefix(finished.count - limit) { due[id] = read.date }
        }
        let chosen = due.sorted(by: { $0.value < $1.value }).prefix(Self.removalsPerPass).compactMap { job in
            finished[job.key].flatMap { record in fences[job.key].map { (id: job.key, record: record, fence: $0) } }
        }
        let gone = await remove(chosen)
        for (id, _, _) in chosen {
            if gone.contains(id) { removed[id] = finished[id] } else { retryAfter[id] = later }
            finishedAt[id] = nil
        }
        // A backlog goes on at once (the caller's next pass); otherwise at the next removal or
        // the next look for newly finished jobs, whichever is sooner.
        var next = later
        if more || due.count > Self.removalsPerPass { next = now }
        if let retention, let soonest = finishedAt.values.map(\.date).min() { next = min(next, soonest.addingTimeInterval(retention.seconds)) }
        notBefore = next
        return next
    }

    /// The newest history entry's finish time; `nil` when there is none yet (the job's run may
    /// be one the view has not seen) or it cannot be read now (tried again at the next look).
    private func newestFinish(of id: String) async -> Date? {
        do {
            let folder = try layout.history(of: id)
            guard let newest = try await store.children(of: folder).max(),
                let record = try await store.get(try folder.child(newest))
            else { return nil }
            return try record.decoded(HistoryEntry.self).finishedAt
        } catch {
            logger.debug("cannot read a finished job's history", metadata: ["job": "\(id)", "error": "\(error)"])
            return nil
        }
    }

    /// Removes the jobs, several to a transaction where their operations fit, and returns those
    /// removed. Watchers then see a few bursts of changes rather than one per job: on ZooKeeper
    /// each burst makes every worker re-list the buckets it changed once. A transaction that
    /// fails (a job triggered again meanwhile) is retried job by job.
    private func remove(_ jobs: [(id: String, record: JobRecordRevision, fence: IncarnationFence)]) async -> Set<String> {
        var removed: Set<String> = []
        var batch: [(id: String, record: JobRecordRevision, fence: IncarnationFence)] = []
        var operations: [Coordination.Operation] = []
        func flush() async {
            guard !batch.isEmpty else { return }
            do {
                for job in batch { try await requireRecord(job.record, of: job.id) }
                _ = try await store.transaction(operations)
                for job in batch { removed.insert(job.id) }
                logger.info("finished one-shot jobs removed", metadata: ["jobs": "\(batch.map(\.id))", "limit": "\(limit.map(String.init) ?? "none")"])
            } catch {
                for job in batch where await remove(job.id, record: job.record, fence: job.fence) { removed.insert(job.id) }
            }
            batch = []
            operations = []
        }
        for job in jobs {
            let own: [Coordination.Operation]
            do {
                let history = try layout.history(of: job.id)
                let entries = try await store.children(of: history).sorted()
                own = try entries.map { .delete(try history.child($0), ifVersion: nil) } + removal(of: job.id, stateVersion: job.record.version, fence: job.fence)
            } catch {
                logger.debug("cannot read a finished job's history", metadata: ["job": "\(job.id)", "error": "\(error)"])
                continue
            }
            guard own.count <= CoordinationLimits.maxTransactionOperations else {
                if await remove(job.id, record: job.record, fence: job.fence) { removed.insert(job.id) }
                continue
            }
            if operations.count + own.count > CoordinationLimits.maxTransactionOperations { await flush() }
            batch.append(job)
            operations += own
        }
        await flush()
        return removed
    }

    /// The deletions that end a job whose history entries are already deleted before them: its
    /// history folder, and its key unless its state changed, with its incarnation key, which fails
    /// the transaction (`noNode`) once that incarnation is removed, even when the job is added
    /// again. The key goes without `recursive`: a run created beneath it meanwhile makes the
    /// transaction fail, and the job stays.
    private func removal(of id: String, stateVersion: Int64, fence: IncarnationFence) throws -> [Coordination.Operation] {
        [
            .delete(try layout.history(of: id), ifVersion: nil),
            .delete(try layout.job(id), ifVersion: stateVersion),
        ] + (fence.key.map { [.delete($0, ifVersion: nil)] } ?? [])
    }

    /// Throws `versionConflict` unless the job's key holds `record`: the same creation of it, at the
    /// same version. A job removed and added again under its id is at the version it started at,
    /// which a deletion at the version the view saw would take for the finished one.
    private func requireRecord(_ record: JobRecordRevision, of id: String) async throws {
        let key = try layout.job(id)
        guard let stored = try await store.get(key), stored.createRevision == record.createRevision, stored.version == record.version else {
            throw CoordinationError(.versionConflict, "job \(id) changed or was added again since the sweep's view saw it", key: key)
        }
    }

    /// Removes the job (with no run left beneath it) and its history, unless it changed or is
    /// another creation of its key than `record`'s; returns whether it did.
    private func remove(_ id: String, record: JobRecordRevision, fence: IncarnationFence) async -> Bool {
        let stateVersion = record.version
        do {
            let history = try layout.history(of: id)
            var entries = try await store.children(of: history).sorted()
            // After the read of the entries, whose deletions (a finished job has one at least)
            // then fail on a history that was removed and made again since.
            try await requireRecord(record, of: id)
            let unchanged = fence.checks + [.check(try layout.job(id), version: stateVersion)]
            // The oldest entries first when there are more than one transaction holds.
            while entries.count > Self.entriesPerTransaction {
                let chunk = entries.prefix(Self.entriesPerTransaction)
                _ = try await store.transaction(unchanged + chunk.map { .delete(try history.child($0), ifVersion: nil) })
                entries.removeFirst(chunk.count)
            }
            _ = try await store.transaction(
                unchanged + entries.map { .delete(try history.child($0), ifVersion: nil) }
                    + removal(of: id, stateVersion: stateVersion, fence: fence))
            logger.info(
                "finished one-shot job removed",
                metadata: ["job": "\(id)", "retention": "\(retention.map(DurationText.format) ?? "forever")", "limit": "\(limit.map(String.init) ?? "none")"])
            return true
        } catch let error as CoordinationError where [.versionConflict, .noNode, .notEmpty].contains(error.code) {
            // Triggered again, removed by someone else, or our view is behind: the watch catches us up.
            logger.debug("finished job not removed", metadata: ["job": "\(id)", "reason": "\(error.message)"])
        } catch {
            logger.warning("cannot remove a finished job", metadata: ["job": "\(id)", "error": "\(error)"])
        }
        return false
    }
}
