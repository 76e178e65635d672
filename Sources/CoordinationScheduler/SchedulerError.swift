/// Scheduler failures that are not store errors.
public enum SchedulerError: Error, Sendable, Hashable, CustomStringConvertible {
    /// This attempt no longer owns the run: its write was refused (nothing was written).
    case fenced(job: String, run: String)

    public var description: String {
        switch self {
        case .fenced(let job, let run): "run \(run) of job \(job) is no longer owned by this attempt"
        }
    }
}
