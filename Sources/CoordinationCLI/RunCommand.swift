import ArgumentParser
import Coordination
import CoordinationScheduler
import Foundation
import Logging
import ServiceLifecycle

struct RunCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "run",
        abstract: "Run jobs on a scheduler with in-process workers, showing progress live.",
        discussion: """
            Starts --workers workers (default 3) in this process, submits the jobs of JOBS_FILE \
            (a JSON array of job specs; see --example) or, without a file, a few example jobs, \
            and shows their runs as they happen: on a terminal a table redrawn in place, \
            otherwise one line per event. On SIGINT or SIGTERM (or, with --until-idle, once \
            every one-shot job has finished and every recurring job has fired twice) the \
            workers shut down gracefully and a summary of every job's outcomes is printed.

            On memory:// (the default) everything lives in this process. With a ZooKeeper or \
            etcd store the jobs are submitted to the cluster and `coord worker` processes \
            elsewhere share the work (when any job id exists already, no job is submitted and \
            every such id is named: coord job rm them first). \
            The jobs stay on the cluster when coord run exits: recurring ones keep firing on \
            the remaining workers until removed.

              coord run --until-idle
              coord run --example > jobs.json; coord run jobs.json
              coord --store etcd://127.0.0.1:2379/demo run jobs.json --workers 2
            """)

    @OptionGroup(title: "Global options") var global: GlobalOptions
    @Argument(help: "A JSON jobs file, - for standard input (default: the built-in examples).") var jobsFile: String?
    // Unconditional: a negative number is taken as the value (and refused by name), not as an option.
    @Option(parsing: .unconditional, help: ArgumentHelp("In-process workers.", valueName: "n")) var workers: Int = 3
    @Option(
        parsing: .unconditional,
        help: ArgumentHelp(
            "While one of these workers leads: the most finished one-shot jobs kept; beyond it, those that finished first are removed early.",
            valueName: "n")) var maxFinished: Int = Worker.Configuration().finishedJobLimit ?? 10_000
    @Flag(help: "Exit once one-shot jobs have finished and recurring jobs have fired twice.") var untilIdle = false
    @Flag(help: "Print the example jobs file and exit.") var example = false

    func run() async throws {
        if example {
            StandardStreams.writeLine(try JobsFile.encode(ExampleJobs.all))
            return
        }
        guard (1...64).contains(workers) else { throw CommandLineProblem("--workers must be between 1 and 64, got \(workers)") }
        guard maxFinished >= 0 else { throw CommandLineProblem("--max-finished must not be negative, got \(maxFinished)") }
        let specs = try jobsFile.map { try JobsFile.decode(try JobAdd.read($0), source: $0) } ?? ExampleJobs.all
        let context = try await CommandContext.make(global)
        try await context.withStore { client in
            // Each worker has a store handle (a session) of its own, as separate processes would.
            var handles: [any CoordinationStore] = []
            do {
                for _ in 0..<workers { handles.append(try await CommandContext.registry.open(context.storeURL, logger: context.logger)) }
                try await run(specs, client: client, workerStores: handles, context: context)
            } catch {
                for handle in handles { await handle.close() }
                throw error
            }
            for handle in handles { await handle.close() }
        }
    }

    private func run(
        _ specs: [JobSpec], client: any CoordinationStore, workerStores: [any CoordinationStore], context: CommandContext
    ) async throws {
        let scheduler = Scheduler(store: client, logger: context.logger)
        // Unique across coord run processes sharing a cluster.
        let prefix = context.storeURL.scheme == "memory" ? "worker" : WorkerCommand.defaultID()
        let workerList = try workerStores.enumerated().map { index, store in
            try Worker(
                store: store, id: "\(prefix)-\(index + 1)",
                configuration: Worker.Configuration(capacity: 2, gracePeriod: .seconds(5), finishedJobLimit: maxFinished),
                handlers: [ShellJobHandler.name: ShellJobHandler.handler()], logger: context.logger)
        }
        let progress = RunProgress(jobs: specs, terminal: StandardStreams.outputIsTerminal)
        await progress.setWorkers(workerList.map(\.id))
        try Self.checkRunnable(specs, by: workerList.map(\.info), scheme: context.storeURL.scheme)
        // The live log reports what finished from here on, though its watches start with the workers.
        let started = Date()
        try await NewJobs.submit(specs, to: scheduler)
        let group = ServiceGroup(
            configuration: ServiceGroupConfiguration(
                services: workerList.map { .init(service: $0) }, gracefulShutdownSignals: [.sigint, .sigterm],
                logger: context.logger))
        let untilIdle = untilIdle
        enum Done { case workers, other }
        try await withThrowingTaskGroup(of: Done.self) { tasks in
            tasks.addTask {
                try await group.run()
                return .workers
            }
            tasks.addTask {
                do {
                    for try await activity in scheduler.activity(historySince: started) { await progress.apply(activity) }
                } catch is CancellationError {
                } catch {
                    context.logger.warning("live progress stopped", metadata: ["error": "\(error)"])
                }
                return .other
            }
            tasks.addTask {
                while !Task.isCancelled {
                    let finished = try await Self.finished(specs, scheduler: scheduler)
                    await progress.update(finished)
                    if untilIdle && Self.isIdle(specs, finished) {
                        await group.triggerGracefulShutdown()
                        return .other
                    }
                    try await Task.sleep(for: .milliseconds(250))
                }
                return .other
            }
            // The workers' end (signal or idle) ends the display too.
            while let done = try await tasks.next() {
                if case .workers = done { break }
            }
            tasks.cancelAll()
        }
        let finished = try await Self.finished(specs, scheduler: scheduler)
        await progress.update(finished)
        Self.printSummary(specs, finished)
    }

    /// A job none of this command's workers can run would wait forever (and `--until-idle` with
    /// it): refused on `memory://`, where no other process can run it; on a shared store a note
    /// says that it waits for a `coord worker` that can.
    static func checkRunnable(_ specs: [JobSpec], by workers: [WorkerInfo], scheme: String) throws {
        let waiting = specs.filter { spec in !workers.contains { $0.canRun(spec) } }
        guard !waiting.isEmpty else { return }
        let needs = waiting.map { spec in
            var need = ["handler '\(spec.handler)'"]
            if !spec.requiredLabels.isEmpty {
                need.append("labels " + spec.requiredLabels.sorted { $0.key < $1.key }.map { "\($0.key)=\($0.value)" }.joined(separator: ","))
            }
            return "\(spec.id) (\(need.joined(separator: ", ")))"
        }.joined(separator: "; ")
        let ours = "coord run's workers run --command jobs (handler '\(ShellJobHandler.name)') and have no labels"
        if scheme == "memory" {
            throw CoordinationError(
                .invalidConfiguration,
                "no worker here can run \(needs): \(ours), and on memory:// no other process can run it; "
                    + "give the job a command and no required labels, or use a shared store with a coord worker that can run it")
        }
        StandardStreams.writeError("coord: note: \(needs) will wait for a coord worker that can run it: \(ours)")
    }

    /// Each job's outcomes so far and its active runs, from the store.
    static func finished(_ specs: [JobSpec], scheduler: Scheduler) async throws -> [String: RunProgress.Finished] {
        var result: [String: RunProgress.Finished] = [:]
        for spec in specs {
            var done = RunProgress.Finished()
            for entry in try await scheduler.history(of: spec.id) {
                done.outcomes[entry.outcome, default: 0] += 1
                if entry.outcome != .skipped, let at = entry.scheduledAt { done.fireTimes.insert(at) }
            }
            done.activeRuns = try await scheduler.activeRuns(of: spec.id).count
            result[spec.id] = done
        }
        return result
    }

    /// One-shot jobs have no active runs left and something in their history; recurring jobs
    /// have run for two fire times.
    static func isIdle(_ specs: [JobSpec], _ finished: [String: RunProgress.Finished]) -> Bool {
        specs.allSatisfy { spec in
            guard let done = finished[spec.id] else { return false }
            if spec.schedule.isRecurring { return done.fireTimes.count >= 2 }
            return done.activeRuns == 0 && !done.outcomes.isEmpty
        }
    }

    static func printSummary(_ specs: [JobSpec], _ finished: [String: RunProgress.Finished]) {
        StandardStreams.writeLine("")
        StandardStreams.writeLine("summary:")
        let outcomes = HistoryEntry.Outcome.allCases
        SchedulerTables.print(
            ["JOB", "SCHEDULE", "ACTIVE"] + outcomes.map { $0.rawValue.uppercased() },
            specs.map { spec in
                let done = finished[spec.id] ?? RunProgress.Finished()
                return [spec.id, SchedulerTables.schedule(spec.schedule), String(done.activeRuns)]
                    + outcomes.map { String(done.outcomes[$0] ?? 0) }
            })
    }
}
