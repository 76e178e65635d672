import ArgumentParser
import Coordination
import CoordinationScheduler
import Foundation

struct WorkersCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "workers",
        abstract: "List the live scheduler workers: state, capacity, load, labels, handlers.",
        discussion: """
            Load is the number of runs the worker is running now. A draining worker (shutting down \
            gracefully) finishes its runs and takes no new ones; the others have taken over its \
            share. --json prints one object per worker. A worker's registration or a run whose \
            record does not read (written by hand, or by a later coord) is named on stderr after \
            the others are listed, and coord exits with status 7.
            """)

    @OptionGroup(title: "Global options") var global: GlobalOptions
    @Flag(help: "One JSON object per worker.") var json = false

    struct Row: Codable {
        var id: String
        var capacity: Int
        var weight: Int
        var load: Int
        var labels: [String: String]
        var handlers: [String]
        var draining: Bool
    }

    func run() async throws {
        let context = try await CommandContext.make(global)
        let (rows, note, unreadable, layout) = try await context.withScheduler { scheduler in
            let overview = try await scheduler.workersOverview()
            var load: [String: Int] = [:]
            for run in overview.activeRuns where run.record.status == .running {
                if let worker = run.record.worker { load[worker, default: 0] += 1 }
            }
            let rows = overview.workers.map { worker in
                Row(
                    id: worker.id, capacity: worker.info.capacity, weight: worker.info.weight, load: load[worker.id] ?? 0,
                    labels: worker.info.labels, handlers: worker.info.handlers, draining: worker.info.draining)
            }
            let absent = try await rows.isEmpty && overview.unreadable.isEmpty ? context.absentSchedulerRootNote(of: scheduler) : nil
            return (rows, absent, overview.unreadable, scheduler.layout)
        }
        if json {
            for row in rows { StandardStreams.writeLine(JSONLines.line(row)) }
        } else {
            SchedulerTables.print(
                ["ID", "STATE", "CAPACITY", "LOAD", "WEIGHT", "LABELS", "HANDLERS"],
                rows.map { row in
                    [row.id, row.draining ? "draining" : "active", String(row.capacity), String(row.load), String(row.weight),
                        SchedulerTables.labels(row.labels),
                        row.handlers.isEmpty ? "-" : row.handlers.joined(separator: ",")]
                })
        }
        // After the output, as a reader of the terminal meets it.
        if let note { StandardStreams.writeError(note) }
        try UnreadableRecords.report(unreadable, rest: "the other workers are listed, and LOAD counts the runs that read", layout: layout)
    }
}
