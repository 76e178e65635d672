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
            share. --json prints one object per worker.
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
        let (rows, note) = try await context.withScheduler { scheduler in
            let workers = try await scheduler.workers()
            var load: [String: Int] = [:]
            for run in try await scheduler.allActiveRuns().values.joined() where run.record.status == .running {
                if let worker = run.record.worker { load[worker, default: 0] += 1 }
            }
            let rows = workers.map { worker in
                Row(
                    id: worker.id, capacity: worker.info.capacity, weight: worker.info.weight, load: load[worker.id] ?? 0,
                    labels: worker.info.labels, handlers: worker.info.handlers, draining: worker.info.draining)
            }
            return (rows, try await rows.isEmpty ? context.absentSchedulerRootNote(of: scheduler) : nil)
        }
        // After the output, as a reader of the terminal meets it.
        defer { if let note { StandardStreams.writeError(note) } }
        if json {
            for row in rows { StandardStreams.writeLine(JSONLines.line(row)) }
            return
        }
        SchedulerTables.print(
            ["ID", "STATE", "CAPACITY", "LOAD", "WEIGHT", "LABELS", "HANDLERS"],
            rows.map { row in
                [row.id, row.draining ? "draining" : "active", String(row.capacity), String(row.load), String(row.weight),
                    SchedulerTables.labels(row.labels),
                    row.handlers.isEmpty ? "-" : row.handlers.joined(separator: ",")]
            })
    }
}
