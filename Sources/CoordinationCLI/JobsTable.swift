import ArgumentParser
import Coordination
import CoordinationScheduler
import Foundation

struct JobsTable: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "jobs",
        abstract: "List the jobs: schedule, strategy, state, next fire time, active runs, last outcome.",
        discussion: """
            STATE is active, paused, or finished (a one-shot job with no active run left; \
            workers remove it after a while, see coord worker --keep-finished); a job whose \
            coord job rm stopped halfway (or is under way) is removing: it no longer fires and \
            refuses changes, and coord job rm ID finishes its removal. With --json \
            prints one object per job: id, handler, schedule, strategy, state (as in the table), \
            nextFire, activeRuns, lastOutcome (as stored: timedOut where the table says \
            timed out), lastFinished; a field with no value (no next fire time, no run ended \
            yet) is left out, not null. A record that does not read (a job's, or one of its \
            runs' or history entries'; written by hand, or by a later coord) leaves its job \
            out: it is named on stderr after the other jobs are listed, and coord exits with \
            status 7.
            """)

    @OptionGroup(title: "Global options") var global: GlobalOptions
    @Flag(help: "One JSON object per job.") var json = false

    struct Row: Codable {
        var id: String
        var handler: String
        var schedule: String
        var strategy: String
        var state: String
        var nextFire: String?
        var activeRuns: Int
        var lastOutcome: String?
        var lastFinished: String?
    }

    func run() async throws {
        let context = try await CommandContext.make(global)
        let (rows, note, removing, unreadable, layout) = try await context.withScheduler { scheduler in
            var rows: [Row] = []
            var removing: [String] = []
            let now = Date()
            let listing = try await scheduler.overview()
            for overview in listing.jobs {
                let (view, active, last) = (overview.job, overview.activeRuns, overview.last)
                let id = view.spec.id
                if overview.beingRemoved { removing.append(id) }
                rows.append(
                    Row(
                        id: id, handler: view.spec.handler, schedule: SchedulerTables.schedule(view.spec.schedule),
                        strategy: Self.strategyName(view.spec.placement),
                        state: overview.beingRemoved ? Self.removing : SchedulerTables.state(view, activeRuns: active),
                        nextFire: overview.beingRemoved ? nil : SchedulerTables.jsonTime(SchedulerTables.nextFire(view, activeRuns: active, now: now)),
                        activeRuns: active, lastOutcome: last?.outcome.rawValue,
                        lastFinished: SchedulerTables.jsonTime(last?.finishedAt)))
            }
            let absent = try await rows.isEmpty && listing.unreadable.isEmpty ? context.absentSchedulerRootNote(of: scheduler) : nil
            return (rows, absent, removing, listing.unreadable, scheduler.layout)
        }
        if json {
            for row in rows { StandardStreams.writeLine(JSONLines.line(row)) }
        } else {
            SchedulerTables.print(
                ["ID", "SCHEDULE", "STRATEGY", "STATE", "NEXT FIRE", "ACTIVE", "LAST"],
                rows.map { row in
                    [row.id, row.schedule, row.strategy, row.state, row.nextFire.map(Self.shortTime) ?? "-", String(row.activeRuns),
                        row.lastOutcome.map(SchedulerTables.status) ?? "-"]
                })
        }
        // After the output, as a reader of the terminal meets it.
        if let note { StandardStreams.writeError(note) }
        for id in removing { StandardStreams.writeError(Self.unfinishedRemovalNote(id)) }
        try UnreadableRecords.report(unreadable, rest: "its job is left out, the other jobs are listed", layout: layout)
    }

    /// The state of a job whose removal is unfinished (``Scheduler/isBeingRemoved(_:)``).
    static let removing = "removing"

    /// What a listing says of a job whose removal is unfinished.
    static func unfinishedRemovalNote(_ id: String) -> String {
        "coord: note: \(id) is being removed, or its removal stopped halfway: it no longer fires and refuses changes; "
            + "coord job rm \(id) finishes the removal"
    }

    /// A JSON time without its milliseconds, for the table.
    static func shortTime(_ text: String) -> String {
        guard let dot = text.firstIndex(of: ".") else { return text }
        return String(text[..<dot]) + "Z"
    }

    /// The flag spelling of a strategy (`least-loaded`).
    static func strategyName(_ strategy: PlacementStrategy) -> String { JobValueSpellings.kebabCase(strategy.rawValue) }
}
