import ArgumentParser
import Coordination
import CoordinationScheduler
import Foundation

struct RunsCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "runs",
        abstract: "Show a job's active runs and its history.",
        discussion: """
            Active runs first (pending, running), then the history, oldest first. Each row: job, \
            run, worker, token (the attempt's fencing token), status (pending, running, or the \
            outcome: succeeded, failed, timed out, abandoned, cancelled, skipped, or handed back \
            for an attempt whose worker stopped and gave the run back), attempt, scheduled, \
            started, finished and message. --json prints one object per run with these fields \
            (status as stored: timedOut, handedBack), plus item and the stdoutTail / \
            stderrTail a run left: its last 4 KB at most; one cut there starts with "…" on a \
            line of its own, then whole lines (or "…" and the end of a line too long for them). \
            A field with no value (the worker of a pending run not assigned to one, startedAt \
            before the start) is left out, not null. A run or history entry whose record does \
            not read (written by hand, or by a later coord) is named on stderr after the others \
            are listed, and coord exits with status 7.
            """)

    @OptionGroup(title: "Global options") var global: GlobalOptions
    @Argument(help: "The job's id.") var id: String
    @Flag(help: "One JSON object per run.") var json = false

    func run() async throws {
        try JobLookup.checkIDs([id])
        let context = try await CommandContext.make(global)
        let (rows, unreadable, layout) = try await context.withScheduler { scheduler in
            guard try await scheduler.job(id) != nil else { throw JobLookup.missing(id) }
            let runs = try await scheduler.runsOverview(of: id)
            return (runs.active.map(RunRow.init) + runs.history.map(RunRow.init), runs.unreadable, scheduler.layout)
        }
        if json {
            for row in rows { StandardStreams.writeLine(JSONLines.line(row)) }
        } else {
            SchedulerTables.print(
                ["JOB", "RUN", "WORKER", "TOKEN", "STATUS", "ATTEMPT", "SCHEDULED", "STARTED", "FINISHED", "MESSAGE"],
                rows.map(Self.tableCells))
        }
        try UnreadableRecords.report(unreadable, rest: "the other runs are listed", layout: layout)
    }

    /// One run's cells in the table. A run with no message shows `-` there as every other empty
    /// cell does: an empty last cell left the row ending in the padding of FINISHED, one word
    /// short of the header for `awk`, `column -t` and `cut`.
    static func tableCells(_ row: RunRow) -> [String] {
        let message = row.message.map { $0.replacingOccurrences(of: "\n", with: " ") } ?? ""
        return [row.job, row.run ?? "-", row.worker ?? "-", row.token.map(String.init) ?? "-", SchedulerTables.status(row.status),
            row.attempt.map(String.init) ?? "-", row.scheduledAt.map(JobsTable.shortTime) ?? "-",
            row.startedAt.map(JobsTable.shortTime) ?? "-", row.finishedAt.map(JobsTable.shortTime) ?? "-",
            message.allSatisfy(\.isWhitespace) ? "-" : message]
    }
}
