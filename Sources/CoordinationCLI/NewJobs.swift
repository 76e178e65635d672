import Coordination
import CoordinationScheduler

/// How `coord job add` and `coord run` submit jobs: the whole set is refused, naming every id in
/// the way, when any of them exists already, so that a file half added does not make its rerun
/// fail on the jobs it did add. The jobs are checked (``JobSpec/validate(now:)``) before, by
/// whoever made them.
enum NewJobs {
    /// Submits `specs` unless one of their ids is taken. Only a job added by another client
    /// between the check and the writes (a race) can still stop the submission part way: the
    /// jobs of the transactions before it stay (see ``Scheduler/submit(_:)-([JobSpec])``).
    static func submit(_ specs: [JobSpec], to scheduler: Scheduler) async throws {
        let existing = try await scheduler.existingJobs(among: specs.map(\.id))
        guard existing.isEmpty else {
            let one = existing.count == 1
            throw CoordinationError(
                .nodeExists,
                "\(one ? "job" : "jobs") \(existing.joined(separator: ", ")) \(one ? "exists" : "exist") already, so no job "
                    + "was added; remove \(one ? "it" : "them") first (coord job rm \(existing.joined(separator: " "))) "
                    + "or give the new \(one ? "job another id" : "jobs other ids")")
        }
        try await scheduler.submit(specs)
    }
}
