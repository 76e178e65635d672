import Coordination
import CoordinationScheduler
import Foundation

/// How `coord job add` and `coord run` submit jobs: the whole set is refused, naming every id in
/// the way, when any of them exists already, so that a file half added does not make its rerun
/// fail on the jobs it did add. The jobs are checked (``JobSpec/validate(now:layout:)``) before, by
/// whoever made them.
enum NewJobs {
    /// Submits `specs` unless one of their ids is taken. Only a job added by another client
    /// between the check and the writes (a race) can still stop the submission part way: the
    /// jobs of the transactions before it stay (see ``Scheduler/submit(_:)-([JobSpec])``).
    /// A job due at a time already past gets a note on stderr: it runs at once, which a typo in
    /// the year would otherwise do without a word. So does one due over a year from now: a typo
    /// there (2999 for 2029) would leave it waiting, just as silently.
    /// - Parameter later: jobs the caller adds later (``RunCommand``'s one-shot broadcasts), whose
    ///   ids are checked with these, so that a clash refuses them all now.
    static func submit(_ specs: [JobSpec], to scheduler: Scheduler, checkingToo later: [JobSpec] = [], now: Date = Date()) async throws {
        let existing = try await scheduler.existingJobs(among: (specs + later).map(\.id))
        guard existing.isEmpty else {
            let one = existing.count == 1
            throw CoordinationError(
                .nodeExists,
                "\(one ? "job" : "jobs") \(existing.joined(separator: ", ")) \(one ? "exists" : "exist") already, so no job "
                    + "was added; remove \(one ? "it" : "them") first (coord job rm \(existing.joined(separator: " "))) "
                    + "or give the new \(one ? "job another id" : "jobs other ids")")
        }
        try await scheduler.submit(specs)
        for note in timeNotes(specs + later, now: now) { StandardStreams.writeError("coord: note: " + note) }
    }

    /// The jobs none of `workers` can run (their handler, their required labels), each with what
    /// it needs: `nightly (handler 'report', labels zone=eu)`; `nil` when every job has a worker.
    static func unrunnable(_ specs: [JobSpec], by workers: [WorkerInfo]) -> String? {
        let waiting = specs.filter { spec in !workers.contains { $0.canRun(spec) } }
        guard !waiting.isEmpty else { return nil }
        return waiting.map { spec in
            var need = ["handler '\(spec.handler)'"]
            if !spec.requiredLabels.isEmpty {
                need.append("labels " + spec.requiredLabels.sorted { $0.key < $1.key }.map { "\($0.key)=\($0.value)" }.joined(separator: ","))
            }
            return "\(spec.id) (\(need.joined(separator: ", ")))"
        }.joined(separator: "; ")
    }

    /// How far ahead a one-shot job's time may be without a note: a year (a leap one included).
    static let farAhead: TimeInterval = 366 * 86_400

    /// A note for each one-shot job whose time has passed, or is more than ``farAhead`` away.
    static func timeNotes(_ specs: [JobSpec], now: Date) -> [String] {
        specs.compactMap { spec in
            guard case .once(let at?) = spec.schedule else { return nil }
            let ahead = at.timeIntervalSince(now)
            if ahead > farAhead {
                return "job \(spec.id) is due at \(JobTime.format(at)), \(roughly(ahead)) from now: "
                    + "it waits until then; check the year if that is a typo"
            }
            // A second's grace: `--at +0s` is not a mistake.
            guard -ahead >= 1 else { return nil }
            return "job \(spec.id) is due at \(JobTime.format(at)), \(roughly(-ahead)) ago: it runs now"
        }
    }

    /// `3 years`, `5 days`, `2 hours`, `40 minutes`, `12 seconds`: a length of time, roughly.
    static func roughly(_ seconds: TimeInterval) -> String {
        let units: [(String, Double)] = [("year", 365.25 * 86_400), ("day", 86_400), ("hour", 3600), ("minute", 60)]
        for (name, size) in units where seconds >= size {
            let count = Int(seconds / size)
            return "\(count) \(name)\(count == 1 ? "" : "s")"
        }
        let count = max(0, Int(seconds))
        return "\(count) second\(count == 1 ? "" : "s")"
    }
}
