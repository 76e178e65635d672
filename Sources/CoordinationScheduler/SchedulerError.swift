public import Coordination

/// Scheduler failures that are not store errors.
public enum SchedulerError: Error, Sendable, Hashable, CustomStringConvertible {
    /// This attempt no longer owns the run: its write was refused (nothing was written).
    case fenced(job: String, run: String)
    /// The scheduler root holds jobs directly under `R/jobs`, as coord did before its job folders
    /// were split into buckets: this version would not see them.
    case earlierLayout(root: Key)

    public var description: String {
        switch self {
        case .fenced(let job, let run): "run \(run) of job \(job) is no longer owned by this attempt"
        case .earlierLayout(let root):
            "the scheduler root \(root) holds jobs in the layout of an earlier coord (directly under \(root)/jobs); "
                + "this version keeps each job in one of 64 buckets and would not see them. Let the coord that wrote "
                + "them finish them, or delete the root to start afresh: coord kv rm \(root) --recursive"
        }
    }
}
