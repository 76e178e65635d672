import Coordination

/// The job ids that `coord job show|rm|pause|resume|trigger|cancel` and `coord runs` look up.
enum JobLookup {
    /// What to do about an id that names no job.
    static let listHint = "coord jobs lists the jobs there are"

    /// A usage error (status 64, before any I/O) for an id no job can have: one that is not a
    /// key segment (`a/b`, `..`, an empty one). Looked up as it is, it failed only once the store
    /// was open, as a malformed key (status 6) quoting a key of the scheduler's layout.
    /// The other checks of a new job's id are not made: a job an earlier coord let in must stay
    /// reachable, to be removed if nothing else.
    static func checkIDs(_ ids: [String]) throws {
        for id in ids {
            guard let problem = Key.segmentProblem(id) else { continue }
            let shown = id.isEmpty ? "''" : "'\(id)'"
            throw CommandLineProblem("\(shown) cannot be a job id: \(problem); a job id is one key segment (\(listHint))")
        }
    }

    /// The error for a job `id` that does not exist, saying where the ids are listed.
    static func missing(_ id: String) -> CoordinationError {
        CoordinationError(.noNode, "no job \(id); \(listHint)")
    }
}
