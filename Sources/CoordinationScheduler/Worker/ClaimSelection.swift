import Coordination
import Foundation

extension Worker {
    /// The (at most `limit`) runs this worker should try to claim now, best first (priority, then
    /// fire time), and when to look again for runs that are not due yet.
    ///
    /// Eligible: the worker is a live member; the job is known, not paused, has our handler and
    /// its labels match; no earlier fire time of the job is still active (runs of different fire
    /// times run one after another); and either pending and due (and assigned to us when the
    /// placement is planned), or running without a claim (abandoned: its worker's session ended).
    func candidates(in view: SchedulerView, inFlight: Set<Key>, lostAt: [Key: Int64], limit: Int) -> ([ViewRun], Date?) {
        guard view.isMember(id) else { return ([], nil) }
        let now = clock.now()
        let specs = view.specs
        let states = view.states
        let claimsKnown = view.hasSnapshot(of: .claims)
        let me = info
        var earliest: [String: Date] = [:]
        view.forEachRun { run in
            earliest[run.record.job] = min(earliest[run.record.job] ?? run.record.scheduledAt, run.record.scheduledAt)
        }
        // Whether we may run a job at all, decided once per job rather than once per run.
        var runnable: [String: JobSpec?] = [:]
        var chosen: [(run: ViewRun, priority: Int, spread: UInt64)] = []
        var wake: Date?
        view.forEachRun { run in
            guard !inFlight.contains(run.key) && lostAt[run.key] != run.version else { return }
            let record = run.record
            if runnable[record.job] == nil {
                let spec = specs[record.job]
                let allowed = spec.map { me.canRun($0) && states[record.job]?.state.paused == false } ?? false
                runnable[record.job] = .some(allowed ? spec : nil)
            }
            guard let spec = runnable[record.job] ?? nil else { return }
            guard record.scheduledAt <= earliest[record.job] ?? record.scheduledAt else { return }
            switch record.status {
            case .pending:
                if spec.placement.isPlanned && record.assignee != id { return }
                if record.notBefore > now {
                    wake = min(wake ?? record.notBefore, record.notBefore)
                    return
                }
            case .running:
                guard claimsKnown, view.claim(ofRun: run.key) == nil else { return }
                if spec.placement == .broadcast && record.assignee != id { return }
            }
            // Equal otherwise, each worker prefers a different order, so that workers do not all
            // race for the same run (a herd of failed claims).
            chosen.append((run, spec.priority, HashRing.hash(id + run.key.path)))
        }
        let best = chosen.smallest(limit) { a, b in
            if a.priority != b.priority { return a.priority > b.priority }
            if a.run.record.scheduledAt != b.run.record.scheduledAt { return a.run.record.scheduledAt < b.run.record.scheduledAt }
            return a.spread < b.spread
        }
        return (best.map(\.run), wake)
    }

    /// A lost claim race is worth retrying once the run or its claim changes.
    func forgetLostRaces(_ event: WatchEvent, folder: SchedulerView.Folder, in lostAt: inout [Key: Int64]) {
        guard !lostAt.isEmpty, folder == .runs || folder == .claims else { return }
        let changed: Key
        switch event {
        case .snapshot:
            lostAt.removeAll()
            return
        case .put(let record): changed = record.key
        case .delete(let key): changed = key
        }
        if folder == .runs {
            lostAt[changed] = nil
        } else if let relative = changed.relative(to: layout.claims) {
            lostAt[layout.runs.appending(relative)] = nil
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

extension Array {
    /// The `limit` smallest elements in order, without sorting the rest: planning runs after
    /// every burst of events, over every pending run, with only a few free slots.
    func smallest(_ limit: Int, by less: (Element, Element) -> Bool) -> [Element] {
        guard limit > 0 else { return [] }
        if count <= limit { return sorted(by: less) }
        var best: [Element] = []
        best.reserveCapacity(limit + 1)
        for element in self {
            if best.count == limit, let last = best.last, !less(element, last) { continue }
            let index = best.firstIndex { less(element, $0) } ?? best.count
            best.insert(element, at: index)
            if best.count > limit { best.removeLast() }
        }
        return best
    }
}
