import Coordination
import Foundation

extension Worker {
    /// A lost claim race is worth retrying once the run, its claim or its job's record (its
    /// state) changes (a claim checks the state it judged the run by).
    func forgetLostRaces(_ event: WatchEvent, folder: SchedulerView.Folder, in queue: inout ClaimQueue) {
        guard queue.hasLostRaces, folder == .runs || folder == .jobs else { return }
        if folder == .jobs {
            switch event {
            case .snapshot: queue.forgetLostRaces()
            case .put(let record): queue.forgetLostRaces(ofJob: record.key.name)
            case .delete(let key): queue.forgetLostRaces(ofJob: key.name)
            }
            return
        }
        let changed: Key
        switch event {
        case .snapshot:
            queue.forgetLostRaces()
            return
        case .put(let record): changed = record.key
        case .delete(let key): changed = key
        }
        queue.forgetLostRace(layout.run(ofClaim: changed) ?? changed)
    }

    /// Keeps the latest claim token per run key until the run itself goes.
    func rememberClaimTokens(_ event: WatchEvent, folder: SchedulerView.Folder, in tokens: inout [Key: Int64]) {
        switch (folder, event) {
        case (.runs, .put(let record)):
            remember(record, in: &tokens)
        case (.runs, .delete(let key)):
            // A claim's deletion keeps the token: a takeover names the abandoned attempt by it.
            if layout.run(ofClaim: key) == nil { tokens[key] = nil }
        case (.runs, .snapshot(let records)):
            let live = Set(records.map(\.key))
            tokens = tokens.filter { live.contains($0.key) }
            for record in records { remember(record, in: &tokens) }
        default:
            break
        }
    }

    private func remember(_ claim: Record, in tokens: inout [Key: Int64]) {
        guard let run = layout.run(ofClaim: claim.key) else { return }
        tokens[run] = claim.createRevision
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
