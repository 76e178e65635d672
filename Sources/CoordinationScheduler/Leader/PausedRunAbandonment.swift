import Coordination
import Foundation
import Logging

/// The leader's recording of attempts abandoned on paused jobs: their worker's session ended
/// while it ran them.
///
/// Workers record an abandonment when they take the run over, and they take over no run of a
/// paused job: left to them, such a run said `running` on a worker that was gone until the job was
/// resumed, and its history lacked the `abandoned` entry. Here the run ends or goes back to
/// pending at once, as a takeover would leave it (``RunExecution/claim(control:)``), and the next
/// attempt waits, pending, for the resume.
///
/// Every write is fenced as a takeover's claim is: it checks the run record at the version the
/// view shows (so a worker's takeover after a resume, or a second pass of this, cannot both land)
/// and that the run's claim is gone (creating the claim key, and deleting it again, fails while
/// it lives), since the view does not see claims and may hold a run's record before its worker's
/// member key.
struct PausedRunAbandonment: Sendable {
    let store: any CoordinationStore
    let layout: SchedulerLayout
    let clock: WallClock
    let logger: Logger

    var history: HistoryWriter { HistoryWriter(store: store, layout: layout) }

    /// Records every abandoned run of a paused job in `view`.
    /// - Parameter refused: runs whose claim still lived, at the version then seen: left alone
    ///   until their record changes (or the caller empties it, when membership changes), rather
    ///   than tried again after every event.
    func pass(view: SchedulerView, refused: inout [Key: Int64]) async {
        if !refused.isEmpty { refused = refused.filter { view.run(at: $0.key)?.version == $0.value } }
        for run in view.abandonedRuns() where refused[run.key] != run.version {
            let job = run.record.job
            guard let spec = view.specs[job], view.state(of: job)?.state.paused == true else { continue }
            // A broadcast run is its worker's alone: with that worker gone, the leader retires
            // the run (``LeaderDuties/retireBroadcastRun(_:reason:)``), paused or not; recorded
            // here as well, it had two entries.
            if spec.placement == .broadcast {
                let member = run.record.assignee.flatMap { view.workers[$0] }
                if !(member?.canRun(spec) ?? false) { continue }
            }
            do {
                try await record(run, spec: spec)
            } catch let error as CoordinationError where error.code == .nodeExists {
                // Its claim lives: the view is behind its worker's member key.
                refused[run.key] = run.version
                logger.debug("abandoned run still claimed", metadata: ["run": "\(run.key)"])
            } catch let error as CoordinationError where [.versionConflict, .noNode].contains(error.code) {
                // Taken over, cancelled or ended meanwhile: the watch brings it.
                logger.debug("abandoned run changed", metadata: ["run": "\(run.key)", "reason": "\(error.message)"])
            } catch {
                logger.warning("cannot record an abandoned run", metadata: ["run": "\(run.key)", "error": "\(error)"])
            }
        }
    }

    /// Ends the abandoned attempt of `run`, as a takeover would: the run is cancelled (a cancel
    /// request came while it ran), or goes back to pending at its next attempt (at once, as a
    /// takeover retries: the session's TTL was the wait), or ends when no retry is left.
    func record(_ run: ViewRun, spec: JobSpec) async throws {
        let record = run.record
        let previous = record.worker ?? "?"
        let now = clock.now()
        func lost(_ outcome: HistoryEntry.Outcome, _ message: String) -> HistoryEntry {
            HistoryEntry(
                job: record.job, run: record.run, item: record.item, worker: previous, token: run.claimToken,
                attempt: record.attempt, scheduledAt: record.scheduledAt, startedAt: record.startedAt, finishedAt: now,
                outcome: outcome, message: message)
        }
        let entry: HistoryEntry
        var requeue: RunRecord?
        if record.cancelRequested {
            entry = lost(.cancelled, "\(record.cancelReason ?? "cancelled by request") while its worker \(previous) was lost")
        } else if spec.retry.allowsAnother(after: record.attempt) {
            entry = lost(.abandoned, "worker \(previous) lost its session while the job was paused; the run waits for its resume")
            var next = record
            next.attempt += 1
            next.clearClaim()
            requeue = next
        } else {
            entry = lost(.abandoned, "worker \(previous) lost its session; no retries left")
        }
        let claimKey = try layout.claim(record.job, record.run)
        let last: Coordination.Operation =
            if let requeue { .set(run.key, value: try SchedulerJSON.encode(requeue), ifVersion: run.version) } else {
                .delete(run.key, ifVersion: run.version)
            }
        try await history.transact(job: record.job, entries: [entry]) {
            [
                .check(run.key, version: run.version),
                .create(claimKey, value: [], mode: .persistent),
                .delete(claimKey, ifVersion: nil),
                last,
            ]
        }
        logger.info(
            "recorded an abandoned run of a paused job",
            metadata: ["job": "\(record.job)", "run": "\(record.run)", "outcome": "\(entry.outcome.rawValue)", "worker": "\(previous)"])
    }
}
