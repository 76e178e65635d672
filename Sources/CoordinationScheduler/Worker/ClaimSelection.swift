import Coordination
import Foundation

extension Worker {
    /// A lost claim race is worth retrying once the run or its claim changes.
    func forgetLostRaces(_ event: WatchEvent, folder: SchedulerView.Folder, in queue: inout ClaimQueue) {
        guard queue.hasLostRaces, folder == .runs || folder == .claims else { return }
        let changed: Key
        switch event {
        case .snapshot:
            queue.forgetLostRaces()
            return
        case .put(let record): changed = record.key
        case .delete(let key): changed = key
        }
        if folder == .runs {
            queue.forgetLostRace(changed)
        } else if let relative = changed.relative(to: layout.claims) {
            queue.forgetLostRace(layout.runs.appending(relative))
        }
    }

    /// Keeps the latest claim token per run key until the run itself goes.
    func rememberClaimTokens(_ event: WatchEvent, folder: SchedulerView.Folder, in tokens: inout [Key: Int64]) {
        switch (folder, event) {
        case (.claims, .snapshot(let records)):
            for record in records { remember(record, in: &tokens) }
        case (.claims, .put(let record)):
            remember(record, in: &tokens)
        case (.runs, .delete(let key)):
            tokens[key] = nil
        case (.runs, .snapshot(let records)):
            let live = Set(records.map(\.key))
            tokens = tokens.filter { live.contains($0.key) }
        default:
            break
        }
    }

    private func remember(_ claim: Record, in tokens: inout [Key: Int64]) {
        guard let relative = claim.key.relative(to: layout.claims), relative.depth == 2 else { return }
        tokens[layout.runs.appending(relative)] = claim.createRevision
    }

    /// Stops our running runs whose record now carries a cancel request.
    func noticeCancelRequests(_ event: WatchEvent, active: [Key: RunControl]) {
        guard !active.isEmpty else { return }
        let records: [Record] =
            switch event {
            case .snapshot(let records): records
            case .put(let record): [record]
            case .delete: []
            }
        for record in records {
            guard let control = active[record.key], let run = try? record.decoded(RunRecord.self),
                run.cancelRequested, run.status == .running, run.worker == id
            else { continue }
            control.stop(.cancelRequested)
        }
    }
}
