import Coordination
import Foundation

extension Worker {
    /// A lost claim race is worth retrying once the run changes, or its job's record (its state)
    /// changes (a claim checks the state it judged the run by). A change of the membership of the
    /// worker running it is the queue's own to notice (``ClaimQueue/note(_:folder:layout:view:)``).
    func forgetLostRaces(_ event: WatchEvent, folder: SchedulerView.Folder, in queue: inout ClaimQueue) {
        guard queue.hasLostRaces, folder != .workers, folder != .wide else { return }
        switch (folder, event) {
        case (_, .snapshot):
            queue.forgetLostRaces()
        case (.jobs, .put(let record)):
            queue.forgetLostRaces(ofJob: record.key.name)
        case (.jobs, .delete(let key)):
            queue.forgetLostRaces(ofJob: key.name)
        case (_, .put(let record)):
            queue.forgetLostRace(record.key)
        case (_, .delete(let key)):
            queue.forgetLostRace(key)
        }
    }

    /// Stops our running runs whose record now carries a cancel request, or that were deleted
    /// under us (their job removed: `remove` asks them to stop first, but a view that re-reads,
    /// as ZooKeeper's, may find them already gone). Only versions past the fence (written by
    /// someone else) are read, through the view's decoded records.
    ///
    /// A deletion can also come as a run missing from a fresh snapshot of the folder holding it:
    /// the watches start over (the worker becomes or stops being the leader, or its share of the
    /// jobs changes), and what was deleted between the old watch's end and the new one's read
    /// comes as no event of its own.
    /// `wholeRuns` says whether a ``SchedulerView/Folder/runs`` snapshot holds every run (the
    /// watches follow every job), or is the empty one that clears the view before the buckets'.
    func noticeCancelRequests(
        _ event: WatchEvent, folder: SchedulerView.Folder, wholeRuns: Bool, active: [Key: RunControl], view: SchedulerView
    ) {
        guard !active.isEmpty else { return }
        let records: [Record]
        switch event {
        case .snapshot(let all):
            records = all
            if folder != .runs || wholeRuns { stopRunsMissing(from: all, folder: folder, active: active) }
        case .put(let record): records = [record]
        case .delete(let key):
            // A run's key, or its job's (the runs are beneath it). Not a bucket's: a watch that
            // ends deletes its bucket's key from the view, and ours stay watched anyway.
            for (run, control) in active where run == key || run.parent == key { control.stop(.cancelRequested) }
            return
        }
        for record in records {
            guard let control = active[record.key], record.version > control.fence,
                let run = view.run(at: record.key)?.record, run.cancelRequested, run.status == .running, run.worker == id
            else { continue }
            control.stop(.cancelRequested)
        }
    }

    /// Stops the runs of `active` that a snapshot of `folder` covers (every run for a whole
    /// ``SchedulerView/Folder/runs`` one, a bucket's for ``SchedulerView/Folder/bucket(_:)``) and
    /// does not hold: deleted meanwhile.
    /// A snapshot is read after the run was seen (on the same handle), so a missing run is gone.
    private func stopRunsMissing(from records: [Record], folder: SchedulerView.Folder, active: [Key: RunControl]) {
        let covers: (Key) -> Bool
        switch folder {
        case .runs: covers = { _ in true }
        case .bucket(let bucket):
            covers = { [layout] run in layout.jobID(of: run, in: layout.jobs).map { SchedulerLayout.bucket(of: $0) == bucket } ?? false }
        case .jobs, .workers, .wide: return
        }
        let held = Set(records.lazy.map(\.key))
        for (run, control) in active where covers(run) && !held.contains(run) { control.stop(.cancelRequested) }
    }
}
