import CoordinationScheduler
import Foundation

/// What `coord run` shows while it runs: on a terminal a compact table redrawn in place (runs per
/// job: pending, running, and the outcomes so far; worker loads); otherwise one plain line per
/// event. Active runs come from ``Scheduler/activity()``; outcomes from the history, read by the
/// caller (the stream reports only entries written after it started).
actor RunProgress {
    /// One job's history so far, as read from the store.
    struct Finished: Sendable {
        var outcomes: [HistoryEntry.Outcome: Int] = [:]
        /// Distinct fire times with at least one finished attempt.
        var fireTimes: Set<Date> = []
        var active: [Scheduler.ActiveRun] = []
        /// The runs that ended without success (their last attempt failed, timed out or was
        /// abandoned, and no retry is coming), by run id.
        var unsuccessful: [String: HistoryEntry.Outcome] = [:]
        var activeRuns: Int { active.count }
    }

    let jobs: [JobSpec]
    let terminal: Bool
    private var runs: [String: Scheduler.ActiveRun] = [:]
    private var finished: [String: Finished] = [:]
    private var workers: [String] = []
    private var drawnLines = 0
    private var drawnAt = ContinuousClock.now

    init(jobs: [JobSpec], terminal: Bool) {
        self.jobs = jobs
        self.terminal = terminal
    }

    func setWorkers(_ ids: [String]) { workers = ids }

    func apply(_ activity: SchedulerActivity) {
        // Runs starting and ending show at once, but the table is redrawn at most ten times a second.
        defer { if terminal && ContinuousClock.now - drawnAt > .milliseconds(100) { redraw() } }
        switch activity {
        case .run(let active):
            let key = active.record.job + "/" + active.record.run
            let before = runs[key]
            runs[key] = active
            if !terminal, before?.record.status != active.record.status || before?.record.attempt != active.record.attempt {
                let record = active.record
                var line = "\(Self.clock()) \(key) \(record.status.rawValue)"
                if record.status == .running, let worker = record.worker { line += " on \(worker)" }
                line += " (attempt \(record.attempt)" + (active.token.map { ", token \($0)" } ?? "") + ")"
                StandardStreams.writeLine(line)
            }
        case .runEnded(let job, let run):
            runs[job + "/" + run] = nil
        case .finished(let entry):
            guard !terminal else { return }
            var line = "\(Self.clock()) \(entry.job)/\(entry.run ?? "-") \(SchedulerTables.outcome(entry.outcome))"
            if let worker = entry.worker { line += " on \(worker)" }
            if let attempt = entry.attempt { line += " (attempt \(attempt)" + (entry.token.map { ", token \($0)" } ?? "") + ")" }
            if let message = entry.message { line += ": " + message.replacingOccurrences(of: "\n", with: " ") }
            StandardStreams.writeLine(line)
        }
    }

    /// An attempt a worker was running: a pending run at the same attempt was handed back.
    struct Held: Sendable {
        var worker: String
        var attempt: Int
    }

    /// The runs that `workers` are running, as far as the live view knows, by run key (`job/run`).
    func held(by workers: Set<String>) -> [String: Held] {
        var held: [String: Held] = [:]
        for (key, run) in runs where run.record.status == .running {
            if let worker = run.record.worker, workers.contains(worker) { held[key] = Held(worker: worker, attempt: run.record.attempt) }
        }
        return held
    }

    /// Writes a line on stderr; on a terminal the table is then drawn anew below it, rather than
    /// over it.
    func note(_ line: String) {
        StandardStreams.writeError(line)
        guard terminal else { return }
        drawnLines = 0
        redraw()
    }

    /// Each job's outcomes as last read from the store.
    var lastRead: [String: Finished] { finished }

    func update(_ finished: [String: Finished]) {
        self.finished = finished
        if terminal { redraw() }
    }

    /// Redraws the table over the previous one.
    private func redraw() {
        let lines = tableLines()
        var text = drawnLines > 0 ? "\u{1B}[\(drawnLines)A" : ""
        for line in lines { text += "\u{1B}[2K" + line + "\n" }
        drawnLines = lines.count
        drawnAt = ContinuousClock.now
        StandardStreams.write(Array(text.utf8))
    }

    private func tableLines() -> [String] {
        let header = ["JOB", "SCHEDULE", "PENDING", "RUNNING", "SUCCEEDED", "FAILED", "TIMED OUT", "OTHER"]
        let rows = jobs.map { spec -> [String] in
            let active = runs.values.filter { $0.record.job == spec.id }
            let done = finished[spec.id] ?? Finished()
            let other = done.outcomes.filter { ![.succeeded, .failed, .timedOut].contains($0.key) }.values.reduce(0, +)
            return [
                spec.id, SchedulerTables.schedule(spec.schedule), String(active.count { $0.record.status == .pending }),
                String(active.count { $0.record.status == .running }), String(done.outcomes[.succeeded] ?? 0),
                String(done.outcomes[.failed] ?? 0), String(done.outcomes[.timedOut] ?? 0), String(other),
            ]
        }
        var load: [String: Int] = [:]
        for run in runs.values where run.record.status == .running { if let worker = run.record.worker { load[worker, default: 0] += 1 } }
        let workerLine = "workers: " + workers.map { "\($0) \(load[$0] ?? 0)" }.joined(separator: ", ")
        return SchedulerTables.render(header, rows) + [workerLine]
    }

    static func clock() -> String {
        let text = Date().formatted(Date.ISO8601FormatStyle(includingFractionalSeconds: true))
        // The time of day is enough on a progress line.
        guard let t = text.firstIndex(of: "T") else { return text }
        return String(text[text.index(after: t)...].dropLast())
    }
}
