import Coordination
import CoordinationScheduler
import Foundation

/// The human tables of `coord jobs`, `coord runs` and `coord workers`: left-aligned columns
/// (by terminal columns, see ``DisplayWidth``) separated by two spaces, a header in capitals, `-` for nothing.
enum SchedulerTables {
    static func render(_ header: [String], _ rows: [[String]]) -> [String] {
        let all = [header] + rows
        var widths = [Int](repeating: 0, count: header.count)
        for row in all {
            for (index, cell) in row.enumerated() where index < widths.count {
                widths[index] = max(widths[index], DisplayWidth.columns(cell))
            }
        }
        return all.map { row in
            row.enumerated().map { index, cell in
                index == row.count - 1 ? cell : cell + String(repeating: " ", count: widths[index] - DisplayWidth.columns(cell))
            }.joined(separator: "  ")
        }
    }

    static func print(_ header: [String], _ rows: [[String]]) {
        for line in render(header, rows) { StandardStreams.writeLine(line) }
    }

    /// A time for a table: UTC, to the second.
    static func time(_ date: Date?) -> String {
        guard let date else { return "-" }
        return date.formatted(Date.ISO8601FormatStyle())
    }

    /// A time for a table, followed by what the clock of `zone` (a cron job's `CRON_TZ`) reads then:
    /// `2026-12-08T02:00:00Z (2026-12-08T03:00:00+01:00 Europe/Paris)`.
    static func time(_ date: Date?, on zone: TimeZone?) -> String {
        guard let date, let zone, !["GMT", "UTC"].contains(zone.identifier) else { return time(date) }
        return "\(time(date)) (\(date.formatted(Date.ISO8601FormatStyle(timeZoneSeparator: .colon, timeZone: zone))) \(zone.identifier))"
    }

    /// A time for JSON: ISO 8601 with milliseconds.
    static func jsonTime(_ date: Date?) -> String? {
        guard let date else { return nil }
        return date.formatted(Date.ISO8601FormatStyle(includingFractionalSeconds: true))
    }

    /// An outcome or a run status as people read it: `timed out`, not the stored `timedOut`
    /// (`handed back` for `handedBack`).
    static func outcome(_ outcome: HistoryEntry.Outcome) -> String { status(outcome.rawValue) }

    /// ``outcome(_:)`` for a stored status (a run's `pending`/`running`, or an outcome).
    static func status(_ stored: String) -> String {
        switch stored {
        case HistoryEntry.Outcome.timedOut.rawValue: "timed out"
        case HistoryEntry.Outcome.handedBack.rawValue: "handed back"
        default: stored
        }
    }

    static func labels(_ labels: [String: String]) -> String {
        labels.isEmpty ? "-" : labels.sorted { $0.key < $1.key }.map { "\($0.key)=\($0.value)" }.joined(separator: ",")
    }

    /// A schedule as the flags that give it: `once`, `at …`, `cron …`, `every 2s`.
    static func schedule(_ schedule: JobSchedule) -> String {
        switch schedule {
        case .once(nil): "once"
        case .once(let at?): "at " + time(at)
        case .cron(let expression): "cron " + expression.text
        case .every(let interval, _): "every " + DurationText.format(interval)
        }
    }

    /// `finished` for a one-shot job with no active run left (the leader removes it after its
    /// retention), else `paused` or `active`.
    static func state(_ view: JobRecord, activeRuns: Int) -> String {
        if !view.spec.schedule.isRecurring && activeRuns == 0 { return "finished" }
        return view.state.paused ? "paused" : "active"
    }

    /// When the job fires next, as far as its state says: `nil` for a paused job, and for a
    /// one-shot job in the past or finished (its run cancelled before its time: ``state(_:activeRuns:)``).
    static func nextFire(_ view: JobRecord, activeRuns: Int, now: Date) -> Date? {
        if view.state.paused { return nil }
        if case .once(let at?) = view.spec.schedule { return at > now && activeRuns > 0 ? at : nil }
        let after = max(view.state.fireTimesDue(after: view.spec.schedule), now)
        return view.spec.schedule.nextFireTime(after: after, anchor: view.state.submittedAt)
    }
}

/// One run as `coord runs` shows it: an active run or a history entry.
struct RunRow: Codable, Sendable {
    var job: String
    var run: String?
    var item: Int?
    var worker: String?
    var token: Int64?
    /// `pending` or `running` for an active run; the outcome for a history entry.
    var status: String
    var attempt: Int?
    var scheduledAt: String?
    var startedAt: String?
    var finishedAt: String?
    var message: String?
    var stdoutTail: String?
    var stderrTail: String?

    init(_ active: Scheduler.ActiveRun) {
        let record = active.record
        job = record.job
        run = record.run
        item = record.item
        worker = record.status == .running ? record.worker : record.assignee
        token = active.token
        status = record.status.rawValue
        attempt = record.attempt
        scheduledAt = SchedulerTables.jsonTime(record.scheduledAt)
        startedAt = SchedulerTables.jsonTime(record.startedAt)
        message = record.progress
    }

    init(_ entry: HistoryEntry) {
        job = entry.job
        run = entry.run
        item = entry.item
        worker = entry.worker
        token = entry.token
        status = entry.outcome.rawValue
        attempt = entry.attempt
        scheduledAt = SchedulerTables.jsonTime(entry.scheduledAt)
        startedAt = SchedulerTables.jsonTime(entry.startedAt)
        finishedAt = SchedulerTables.jsonTime(entry.finishedAt)
        message = entry.message
        stdoutTail = entry.stdoutTail
        stderrTail = entry.stderrTail
    }
}
