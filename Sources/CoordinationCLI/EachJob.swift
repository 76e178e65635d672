import Coordination
import CoordinationScheduler

/// How `coord job rm|pause|resume|trigger|cancel` act on the ids they are given, alike: every id
/// checked before any I/O (status 64 for one no job can have, nothing done); then each job in
/// turn, those that do not exist skipped and named together at the end (status 2), the others
/// still done.
enum EachJob {
    /// Runs `action` on each distinct id of `ids`, in order. `othersDone` ("the others were
    /// removed") goes in brackets in the error naming the missing ones, when there are others.
    static func act(
        _ global: GlobalOptions, ids: [String], othersDone: String, _ action: (Scheduler, String) async throws -> Void
    ) async throws {
        try JobLookup.checkIDs(ids)
        let context = try await CommandContext.make(global)
        try await context.withScheduler { scheduler in
            var missing: [String] = []
            // A repeated id would otherwise be acted on twice, or reported missing the second time.
            var seen = Set<String>()
            for id in ids where seen.insert(id).inserted {
                do {
                    try await action(scheduler, id)
                } catch let error as CoordinationError where error.code == .noNode {
                    // Only the job's own absence: a "no such key" of another kind stays what it is.
                    guard try await scheduler.job(id) == nil else { throw error }
                    missing.append(id)
                }
            }
            // Thrown within: on memory:// the note joins this line rather than adding one.
            guard missing.isEmpty else {
                let others = seen.count > missing.count ? " (\(othersDone))" : ""
                throw CoordinationError(
                    .noNode, "no \(missing.count == 1 ? "job" : "jobs") \(missing.joined(separator: ", "))\(others); \(JobLookup.listHint)")
            }
        }
    }
}
