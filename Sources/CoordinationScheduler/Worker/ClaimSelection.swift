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
    func noticeCancelRequests(_ event: WatchEvent, active: [Key: RunControl], view: SchedulerView) {
        guard !active.isEmpty else { return }
        let records: [Record]
        switch event {
        case .snapshot(let all): records = all
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
}
