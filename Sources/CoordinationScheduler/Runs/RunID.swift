import Foundation

/// Deterministic run ids, so that a fire time can only ever be created once: the same job, fire
/// time and item always give the same key, and creating it twice fails with `nodeExists`.
/// They sort by fire time, then by item.
public enum RunID {
    /// `r-<epoch ms, 16 digits>-<item, 3 digits>`, plus `-<worker>` for a broadcast run.
    public static func scheduled(at date: Date, item: Int, worker: String? = nil) -> String {
        let millis = Int64((date.timeIntervalSince1970 * 1000).rounded())
        var id = "r-\(padded(millis, 16))-\(padded(Int64(item), 3))"
        if let worker { id += "-\(worker)" }
        return id
    }

    /// `t-<trigger number, 10 digits>-<item, 3 digits>`, plus `-<worker>` for a broadcast run.
    public static func triggered(number: Int, item: Int, worker: String? = nil) -> String {
        var id = "t-\(padded(Int64(number), 10))-\(padded(Int64(item), 3))"
        if let worker { id += "-\(worker)" }
        return id
    }

    /// Whether `run` is a trigger's (``triggered(number:item:worker:)``).
    static func isTriggered(_ run: String) -> Bool { run.hasPrefix("t-") }

    static func padded(_ value: Int64, _ width: Int) -> String {
        let digits = String(value)
        return String(repeating: "0", count: max(0, width - digits.count)) + digits
    }
}
