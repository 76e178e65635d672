import Coordination

/// Why a job's history has room for one more entry without trimming, checked by the write.
///
/// A one-shot job (not a broadcast) ends each attempt of each of its runs with exactly one entry
/// (success, failure, time-out, cancellation or abandonment), and only
/// its submission and its triggers make runs. So its history never holds more than
/// `(1 + triggers) × shards × (1 + maxRetries)` entries besides hand-backs, and while that is
/// within the limit no write needs to trim. Hand-backs, which may come any number of times, are
/// recorded only while that bound still fits beside them (``recordsHandBack(entries:)``): they
/// never push a result out, nor the history past its limit. The job's state carries `triggers`: the write checks the job's record still
/// has the version the count was made at, so a trigger meanwhile sends it back to reading the entries.
struct HistoryRoom: Sendable, Hashable {
    /// The job's key, whose record holds its state.
    let job: Key
    let version: Int64
    /// The most entries the job's attempts can end with, hand-backs aside.
    let bound: Int
    let limit: Int

    /// Whether a hand-back's entry fits beside `entries` (the history's count now) with room left
    /// for every entry the attempts may still end with.
    func recordsHandBack(entries: Int) -> Bool { entries + 1 + bound <= limit }

    /// The room of `spec`'s history given its state at `version`; `nil` when the bound reaches the limit.
    init?(spec: JobSpec, state: JobState, version: Int64, layout: SchedulerLayout) {
        guard case .once = spec.schedule, spec.placement != .broadcast, let key = try? layout.job(spec.id) else { return nil }
        let (fires, attempts) = (1 + state.triggers, 1 + spec.retry.maxRetries)
        let (perFire, overflowA) = spec.shards.multipliedReportingOverflow(by: attempts)
        let (bound, overflowB) = fires.multipliedReportingOverflow(by: perFire)
        guard !overflowA, !overflowB, bound <= layout.historyLimit else { return nil }
        self.job = key
        self.version = version
        self.bound = bound
        self.limit = layout.historyLimit
    }
}
