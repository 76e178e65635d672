import Coordination
import CoreMetrics
import Foundation

/// The metrics one worker emits, through the `MetricsFactory` it was given (by default the one
/// the application bootstrapped with `MetricsSystem.bootstrap` by the time the worker was made;
/// a worker made before the bootstrap keeps the no-op one for as long as it lives). Every
/// metric carries a `worker` dimension, the worker's id; none carries a job or run id, whose
/// number has no bound. Made once per worker, when the worker is made: the events themselves only
/// touch handlers that exist already.
///
/// Counters end in `_total`, timers (histograms to most backends) in `_seconds`, as Prometheus
/// names them.
final class SchedulerMetrics: Sendable {
    /// The metric labels, as a backend (Prometheus) shows them.
    enum Label {
        /// Counter: attempts whose handler this worker started (a claim won, handler about to run).
        static let runsStarted = "coordination_scheduler_runs_started_total"
        /// Counter, `outcome`: attempts this worker started that ended (see ``finished(recorded:duration:)``).
        static let runsFinished = "coordination_scheduler_runs_finished_total"
        /// Timer, `outcome`: how long a handler ran, from its start to its end (or its stop).
        static let runDuration = "coordination_scheduler_run_duration_seconds"
        /// Counter, `result` (`won`, `lost`, `error`): claim attempts.
        static let claims = "coordination_scheduler_claims_total"
        /// Timer: how long a claim attempt took to be decided, won or lost (its transaction, shared
        /// with other writes by the group commit, and, after a reply that was lost, finding out how
        /// it went). Attempts the store failed (`result="error"`) are not timed.
        static let claimDuration = "coordination_scheduler_claim_duration_seconds"
        /// Timer: from the time a pending run was due (its scheduled time, or the end of its
        /// retry back-off) to this worker's claim of it. Not for takeovers.
        static let claimDelay = "coordination_scheduler_claim_delay_seconds"
        /// Counter: claims won of runs abandoned by another worker (or an earlier session of this
        /// one) whose session ended while it ran them.
        static let takeovers = "coordination_scheduler_takeovers_total"
        /// Gauge (meter): runs this worker holds a claim on now.
        static let runsHeld = "coordination_scheduler_runs_held"
        /// Counter, `state` (`suspended`, `reconnected`, `expired`): changes of the worker's store session.
        static let sessionEvents = "coordination_scheduler_session_events_total"
        /// Gauge (meter): 1 while this worker is the scheduler's leader, else 0.
        static let leader = "coordination_scheduler_leader"
        /// Counter, `reason` (`misfire`, `overlap`): fire times of recurring jobs that the leader
        /// turned into no run, by the job's misfire or overlap policy (the `skipped` entries of the
        /// history; one entry may name several missed fire times, each counted here).
        static let fireTimesSkipped = "coordination_scheduler_fire_times_skipped_total"
    }

    /// The `outcome` dimension's values: how an attempt this worker ran ended, by the words the
    /// run history uses (``HistoryEntry/Outcome``; `skipped` is no attempt's).
    static let outcomes: [HistoryEntry.Outcome] = [.succeeded, .failed, .timedOut, .cancelled, .abandoned, .handedBack]

    let runsStarted: Counter
    private let finished: [HistoryEntry.Outcome: (count: Counter, duration: CoreMetrics.Timer)]
    let claimsWon: Counter
    let claimsLost: Counter
    let claimErrors: Counter
    let claimDuration: CoreMetrics.Timer
    let claimDelay: CoreMetrics.Timer
    let takeovers: Counter
    let runsHeld: Meter
    private let sessionChanges: [SessionState: Counter]
    let leader: Meter
    let skippedByMisfire: Counter
    let skippedByOverlap: Counter

    init(worker: String, factory: any MetricsFactory) {
        let me = [("worker", worker)]
        func counter(_ label: String, _ extra: [(String, String)] = []) -> Counter {
            Counter(label: label, dimensions: me + extra, handler: factory.makeCounter(label: label, dimensions: me + extra))
        }
        func timer(_ label: String, _ extra: [(String, String)] = []) -> CoreMetrics.Timer {
            let handler = factory.makeTimer(label: label, dimensions: me + extra)
            handler.preferDisplayUnit(.seconds)
            return CoreMetrics.Timer(label: label, dimensions: me + extra, handler: handler)
        }
        func meter(_ label: String) -> Meter {
            Meter(label: label, dimensions: me, handler: factory.makeMeter(label: label, dimensions: me))
        }
        runsStarted = counter(Label.runsStarted)
        var finished: [HistoryEntry.Outcome: (Counter, CoreMetrics.Timer)] = [:]
        for outcome in Self.outcomes {
            let dimension = [("outcome", outcome.rawValue)]
            finished[outcome] = (counter(Label.runsFinished, dimension), timer(Label.runDuration, dimension))
        }
        self.finished = finished
        claimsWon = counter(Label.claims, [("result", "won")])
        claimsLost = counter(Label.claims, [("result", "lost")])
        claimErrors = counter(Label.claims, [("result", "error")])
        claimDuration = timer(Label.claimDuration)
        claimDelay = timer(Label.claimDelay)
        takeovers = counter(Label.takeovers)
        runsHeld = meter(Label.runsHeld)
        var sessionChanges: [SessionState: Counter] = [:]
        for state in [SessionState.suspended, .reconnected, .expired] {
            sessionChanges[state] = counter(Label.sessionEvents, [("state", state.rawValue)])
        }
        self.sessionChanges = sessionChanges
        leader = meter(Label.leader)
        skippedByMisfire = counter(Label.fireTimesSkipped, [("reason", "misfire")])
        skippedByOverlap = counter(Label.fireTimesSkipped, [("reason", "overlap")])
        // The gauges start at a value rather than at none.
        runsHeld.set(0)
        leader.set(0)
    }

    /// An attempt this worker started ended; its handler ran for `duration`. Counted by the
    /// outcome its end recorded (``RunExecution/settle(_:claim:control:)``): not always what the
    /// attempt came to, as a hand-back that a cancel request came to ends the run `cancelled`.
    /// A refused end (`nil`: its session ended first, so the worker that takes the
    /// run over records it) counts as `abandoned`.
    func finished(recorded: HistoryEntry.Outcome?, duration: Duration) {
        guard let metrics = finished[recorded ?? .abandoned] else { return }
        metrics.count.increment()
        metrics.duration.recordDuration(duration)
    }

    /// A claim was won of the run `candidate` (as the worker saw it before claiming) at `now`
    /// (the attempt's start, on the worker's wall clock): a takeover when it was running.
    func claimWon(_ candidate: RunRecord, now: Date?) {
        claimsWon.increment()
        runsHeld.increment()
        if candidate.status == .running {
            takeovers.increment()
        } else if let now {
            let due = max(candidate.scheduledAt, candidate.notBefore)
            // Claimed before its time on this clock: a run for now from a clock ahead, a retry
            // after a step back (``ClaimQueue``). No delay, rather than a negative one.
            claimDelay.recordDuration(.seconds(max(0, now.timeIntervalSince(due))))
        }
    }

    /// Counts the changes of the store's session (not its first state) until the stream ends
    /// (the store closed) or the task is cancelled.
    func countSessionChanges(of store: any CoordinationStore) async {
        for await event in store.sessionEvents().dropFirst() {
            sessionChanges[event.state]?.increment()
        }
    }
}

extension CoreMetrics.Timer {
    /// Records a `Duration`, in whole nanoseconds (the `Metrics` module's `record(duration:)`
    /// is newer than the oldest swift-metrics this package accepts). Negative ones count as zero.
    func recordDuration(_ duration: Duration) {
        let (seconds, attoseconds) = duration.components
        let (nanoseconds, overflow) = seconds.multipliedReportingOverflow(by: 1_000_000_000)
        recordNanoseconds(overflow ? Int64.max : max(0, nanoseconds + attoseconds / 1_000_000_000))
    }
}
