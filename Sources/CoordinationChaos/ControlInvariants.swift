import CoordinationScheduler

/// The invariants of the controls the harness applied to jobs (``JobControlRecord``): each is
/// seen at the sink (an accepted `begin` whose token, the claim's revision, is past the control's
/// acknowledgement) and in the run records the observer watched (a claim's write past it). A
/// worker whose view is behind the control may still try such a claim; its transaction's checks
/// of the run's and the job's versions are what must refuse it.
extension InvariantChecker {
    /// A cancelled job starts no run once the cancel was acknowledged. A takeover of a run whose
    /// worker was lost after the cancel request claims it only to settle it as cancelled: its
    /// claim keeps the request and runs nothing.
    static func nothingStartsAfterCancel(_ evidence: ChaosEvidence) -> InvariantResult {
        let cancels = evidence.controls.filter { $0.action == .cancel }
        var violations: [String] = []
        for cancel in cancels {
            for write in evidence.writes
            where write.accepted && write.report.kind == .begin && write.resource.job == cancel.job && write.token > cancel.acknowledgedRevision {
                violations.append(
                    "\(write.resource) run \(write.report.run) begun with token \(write.token) on \(write.report.worker) at \(seconds(write.at)), "
                        + "after its cancel was acknowledged at revision \(cancel.acknowledgedRevision) (\(seconds(cancel.at)))")
            }
            for sighting in claims(of: cancel.job, in: evidence, after: cancel.acknowledgedRevision) where !sighting.record.cancelRequested {
                violations.append(
                    "\(sighting.key) claimed by \(sighting.record.worker ?? "?") (attempt \(sighting.record.attempt)) at revision "
                        + "\(sighting.modRevision), without the cancel request acknowledged at revision \(cancel.acknowledgedRevision)")
            }
        }
        return InvariantResult(invariant: .nothingStartsAfterCancel, checked: cancels.count, violations: violations)
    }

    /// A paused job starts no run from the pause's acknowledgement until its resume was sent.
    static func nothingStartsWhilePaused(_ evidence: ChaosEvidence) -> InvariantResult {
        let pauses = evidence.controls.filter { $0.action == .pause }
        var violations: [String] = []
        for pause in pauses {
            let end = pause.resumedRevision ?? .max
            let window = "paused from revision \(pause.acknowledgedRevision) until \(pause.resumedRevision.map(String.init) ?? "the end")"
            for write in evidence.writes
            where write.accepted && write.report.kind == .begin && write.resource.job == pause.job && write.token > pause.acknowledgedRevision
                && write.token < end
            {
                violations.append(
                    "\(write.resource) run \(write.report.run) begun with token \(write.token) on \(write.report.worker) at \(seconds(write.at)), \(window)")
            }
            for sighting in claims(of: pause.job, in: evidence, after: pause.acknowledgedRevision) where sighting.modRevision < end {
                violations.append(
                    "\(sighting.key) claimed by \(sighting.record.worker ?? "?") at revision \(sighting.modRevision), \(window)")
            }
        }
        return InvariantResult(invariant: .nothingStartsWhilePaused, checked: pauses.count, violations: violations)
    }

    /// Once a job's removal (before it was submitted again) was acknowledged, no run of an older
    /// incarnation of it starts: a view behind the removal must not claim the removed job's runs.
    static func replacedStartsNothing(_ evidence: ChaosEvidence) -> InvariantResult {
        let replacements = evidence.controls.filter { $0.action == .replace }
        var violations: [String] = []
        for replacement in replacements {
            let current = replacement.incarnation
            for write in evidence.writes
            where write.accepted && write.report.kind == .begin && write.resource.job == replacement.job
                && write.token > replacement.acknowledgedRevision && JobControlRecord.incarnation(ofRun: write.report.run) != current
            {
                violations.append(
                    "\(write.resource) run \(write.report.run) of an older incarnation begun with token \(write.token) on \(write.report.worker) "
                        + "at \(seconds(write.at)), after the job was removed at revision \(replacement.acknowledgedRevision) and "
                        + "submitted again as \(current ?? "-")")
            }
            for sighting in claims(of: replacement.job, in: evidence, after: replacement.acknowledgedRevision)
            where JobControlRecord.incarnation(ofRun: sighting.record.run) != current {
                violations.append(
                    "\(sighting.key) of an older incarnation claimed by \(sighting.record.worker ?? "?") at revision \(sighting.modRevision), "
                        + "after the job was removed at revision \(replacement.acknowledgedRevision)")
            }
        }
        return InvariantResult(invariant: .replacedStartsNothing, checked: replacements.count, violations: violations)
    }

    /// The claims of `job`'s runs the observer saw written after `revision`, in revision order.
    private static func claims(of job: String, in evidence: ChaosEvidence, after revision: Int64) -> [RunSighting] {
        evidence.runs.filter { $0.record.job == job && $0.isClaim && $0.modRevision > revision }.sorted { $0.modRevision < $1.modRevision }
    }

    /// The (job, item)s of `mustSucceed` not yet settled by `history`: a cancelled job's item is
    /// settled by a success, a cancellation, or any ending recorded after the cancel was
    /// acknowledged (a run whose worker was lost as the request came ends `abandoned`, not
    /// retried): cancelled is not lost. A replaced job's item only by a success of its newest
    /// incarnation's run; any other item by a success.
    public static func outstanding(
        _ mustSucceed: Set<ResourceID>, controls: [JobControlRecord], in history: [HistorySighting]
    ) -> [ResourceID] {
        var cancelled: [String: Int64] = [:]
        for cancel in controls where cancel.action == .cancel {
            cancelled[cancel.job] = min(cancelled[cancel.job] ?? .max, cancel.acknowledgedRevision)
        }
        var incarnation: [String: String?] = [:]
        for replacement in controls where replacement.action == .replace {
            // The newest replacement names the incarnation that must run.
            if let known = controls.last(where: { $0.job == replacement.job && $0.action == .replace }), known == replacement {
                incarnation[replacement.job] = replacement.incarnation
            }
        }
        var settled: Set<ResourceID> = []
        for sighting in history {
            let entry = sighting.entry
            let resource = ResourceID(job: entry.job, item: entry.item ?? 0)
            switch entry.outcome {
            case .succeeded:
                if let required = incarnation[entry.job], JobControlRecord.incarnation(ofRun: entry.run ?? "") != required { continue }
                settled.insert(resource)
            case .cancelled where cancelled[entry.job] != nil:
                settled.insert(resource)
            default:
                if let acknowledged = cancelled[entry.job], sighting.createRevision > acknowledged { settled.insert(resource) }
            }
        }
        return mustSucceed.subtracting(settled).sorted()
    }
}
