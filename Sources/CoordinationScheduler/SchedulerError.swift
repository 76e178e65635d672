public import Coordination

/// Scheduler failures that are not store errors.
public enum SchedulerError: Error, Sendable, Hashable, CustomStringConvertible {
    /// This attempt no longer owns the run: its write was refused (nothing was written).
    case fenced(job: String, run: String)
    /// The scheduler root was written in the layout of an earlier coord (jobs directly under
    /// `R/jobs`, before the buckets; runs under `R/runs`, before runs moved beneath their jobs;
    /// or job states under `R/state`, before they moved into their jobs' records): this version
    /// would not see its jobs or runs.
    case earlierLayout(root: Key)

    public var description: String {
        switch self {
        case .fenced(let job, let run): "run \(run) of job \(job) is no longer owned by this attempt"
        case .earlierLayout(let root):
            "the scheduler root \(root) was written in the layout of an earlier coord (jobs directly under "
                + "\(root)/jobs, runs under \(root)/runs, or job states under \(root)/state); this version keeps each "
                + "job, with its state, in one of 64 buckets of \(root)/jobs with its runs beneath it, and would "
                + "not see them. Let the coord that wrote them "
                + "finish them, or delete the root to start afresh: coord kv rm \(root) --recursive"
        }
    }
}
