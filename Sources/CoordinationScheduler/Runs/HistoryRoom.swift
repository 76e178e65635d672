import Coordination

/// Why a job's history has room for one more entry without trimming, checked by the write.
///
/// A one-shot job (not a broadcast) ends each attempt of each of its runs with exactly one entry
/// (success, failure, time-out, cancellation or abandonment), and only
/// its submission and its triggers make runs. So its history never holds more than
/// `(1 + triggers) × shards × (1 + maxRetries)` entries besides hand-backs, and while that is
/// within the limit no write needs to trim. Hand-backs, which may come any number of times, are
/// written without a room: each trims the history to the limit, so after one the writes that
/// skip trimming can add at most the entries still to come (within the bound) before a later
/// write trims again. The history stays bounded, by twice the limit at worst. The job's state carries `triggers`: the write checks the job's record still
/// has the version the count was made at, so a trigger meanwhile sends it back to reading the entries.
struct HistoryRoom: Sendable, Hashable {
    /// The job's key, whose record holds its state.
    let job: Key
    let version: Int64

    /// The room of `spec`'s history given its state at `version`; `nil` when the bound reaches the limit.
    init?(spec: JobSpec, state: JobState, version: Int64, layout: SchedulerLayout) {
        guard case .once = spec.schedule, spec.placement != .broadcast, let key = try? layout.job(spec.id) else { return nil }
        let (fires, attempts) = (1 + state.triggers, 1 + spec.retry.maxRetries)
        let (perFire, overflowA) = spec.shards.multipliedReportingOverflow(by: attempts)
        let (bound, overflowB) = fires.multipliedReportingOverflow(by: perFire)
        guard !overflowA, !overflowB, bound <= layout.historyLimit else { return nil }
        self.job = key
        self.version = version
    }
}
