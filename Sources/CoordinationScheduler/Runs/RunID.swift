import Foundation

/// Deterministic run ids, so that a fire time can only ever be created once: the same job, fire
/// time and item always give the same key, and creating it twice fails with `nodeExists`.
/// They sort by fire time, then by item.
///
/// A job added by this version has an incarnation tag (``JobState/incarnation``), which follows
/// the item: a job removed and added again under the same id then never has a run of an id its
/// removed incarnation had, which a view still behind the removal could claim or place as the
/// removed job's (its checks are of versions, which start over). A job whose record has no tag
/// (added by an earlier version) keeps the ids it had, so no fire time is created twice across
/// an upgrade.
public enum RunID {
    /// `r-<epoch ms, 16 digits>-<item, 3 digits>`, then `-<incarnation>` when the job has one,
    /// then `-<worker>` for a broadcast run.
    public static func scheduled(at date: Date, item: Int, incarnation: String? = nil, worker: String? = nil) -> String {
        let millis = Int64((date.timeIntervalSince1970 * 1000).rounded())
        return suffixed("r-\(padded(millis, 16))-\(padded(Int64(item), 3))", incarnation: incarnation, worker: worker)
    }

    /// `t-<trigger number, 10 digits>-<item, 3 digits>`, then `-<incarnation>` when the job has
    /// one, then `-<worker>` for a broadcast run.
    public static func triggered(number: Int, item: Int, incarnation: String? = nil, worker: String? = nil) -> String {
        suffixed("t-\(padded(Int64(number), 10))-\(padded(Int64(item), 3))", incarnation: incarnation, worker: worker)
    }

    private static func suffixed(_ id: String, incarnation: String?, worker: String?) -> String {
        var id = id
        if let incarnation { id += "-\(incarnation)" }
        if let worker { id += "-\(worker)" }
        return id
    }

    /// Whether `run` can be a run of the job incarnation tagged `incarnation`: a view that pairs a
    /// job's record with a run of another incarnation of it (the one re-read before the other) must
    /// not have the run claimed by that record. An untagged job (added by an earlier version) is
    /// not told: its ids' fourth part, when there is one, is a broadcast's worker.
    static func belongs(_ run: String, toIncarnation incarnation: String?) -> Bool {
        guard let incarnation else { return true }
        let parts = run.split(separator: "-", maxSplits: 4, omittingEmptySubsequences: false)
        return parts.count >= 4 && parts[3] == incarnation
    }

    /// Whether `run` is a trigger's (``triggered(number:item:incarnation:worker:)``).
    static func isTriggered(_ run: String) -> Bool { run.hasPrefix("t-") }

    static func padded(_ value: Int64, _ width: Int) -> String {
        let digits = String(value)
        return String(repeating: "0", count: max(0, width - digits.count)) + digits
    }
}
