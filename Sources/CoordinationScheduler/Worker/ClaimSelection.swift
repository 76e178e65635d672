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

    /// Stops our running runs whose record now carries a cancel request. Only versions past the
    /// fence (written by someone else) are read, through the view's decoded records.
    func noticeCancelRequests(_ event: WatchEvent, active: [Key: RunControl], view: SchedulerView) {
        guard !active.isEmpty else { return }
        let records: [Record] =
            switch event {
            case .snapshot(let records): records
            case .put(let record): [record]
            case .delete: []
            }
        for record in records {
            guard let control = active[record.key], record.version > control.fence,
                let run = view.run(at: record.key)?.record, run.cancelRequested, run.status == .running, run.worker == id
            else { continue }
            control.stop(.cancelRequested)
        }
    }
}
