import ArgumentParser
import Coordination
import CoordinationRecipes
import CoordinationScheduler
import Foundation
import Logging

struct RunCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "run",
        abstract: "Run jobs on a scheduler with in-process workers, showing progress live.",
        discussion: """
            Starts --workers workers (default 3) in this process, submits the jobs of JOBS_FILE \
            (a JSON array of job specs; see --example) or, without a file, a few example jobs, \
            and shows their runs as they happen: on a terminal a table redrawn in place, \
            otherwise one line per event. On SIGINT or SIGTERM (or, with --until-idle, once \
            every one-shot job has finished and every recurring job has fired twice) every \
            worker stops claiming at once; running commands get 5s to finish, then their runs \
            are handed back (pending, for other workers). A summary of every job's outcomes \
            follows, with the runs left unfinished, and after a signal coord exits with 128 + \
            its number (130, 143). A SIGINT while it stops (Ctrl-C again) exits at once: the \
            commands die with the process and their runs are abandoned to takeover, as a \
            killed worker's are (other workers take them once this process's sessions expire). \
            A later SIGTERM does not cut the stop short, as for coord worker: a supervisor may \
            send it more than once, and `timeout` sends it to coord and again to its group.

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

    /// How long running commands may go on after SIGINT or SIGTERM before they are handed back.
    static let gracePeriod = Duration.seconds(5)

    @OptionGroup(title: "Global options") var global: GlobalOptions
    @Argument(help: "A JSON jobs file, - for standard input (default: the built-in examples).") var jobsFile: String?
    // Unconditional: a negative number is taken as the value (and refused by name), not as an option.
    @Option(parsing: .unconditional, help: ArgumentHelp("In-process workers (1 to \(CountLimits.inProcessWorkers.upperBound)).", valueName: "n")) var workers: Int = 3
    @Option(
        parsing: .unconditional,
        help: ArgumentHelp(
            "While one of these workers leads: the most finished one-shot jobs kept; beyond it, those that finished first are removed early.",
            valueName: "n")) var maxFinished: Int = Worker.Configuration().finishedJobLimit ?? 10_000
    @Flag(
        help: """
            Exit once one-shot jobs have finished and recurring jobs have fired twice: status 0, or \
            13 when a run ended failed, timed out or abandoned.
            """) var untilIdle = false
    @Flag(help: "Print the example jobs file and exit.") var example = false

    func run() async throws {
        // Checked before --example too: a bad value is a usage error wherever it is given.
        try CountLimits.check("--workers", workers, CountLimits.inProcessWorkers, "each is a store handle (a session) of its own")
        guard maxFinished >= 0 else { throw CommandLineProblem("--max-finished must not be negative, got \(maxFinished)") }
        if example {
            // It prints; it does not write a file, and a file to run has no place beside it.
            if let jobsFile {
                throw CommandLineProblem("--example prints the example jobs and takes no jobs file; to write one: coord run --example > \(jobsFile)")
            }
            StandardStreams.writeLine(try JobsFile.encode(ExampleJobs.all))
            return
        }
        let specs = if let jobsFile { try JobsFile.decode(try await JobAdd.read(jobsFile), source: jobsFile) } else { ExampleJobs.all }
        // Not refused: on a shared store the workers still run the jobs others add.
        if let jobsFile, specs.isEmpty { StandardStreams.writeError("coord: note: \(JobsFile.emptyNote(jobsFile))") }
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
        var workerList: [Worker] = []
        for (index, store) in workerStores.enumerated() {
            workerList.append(
                try Worker(
                    store: store, id: "\(prefix)-\(index + 1)",
                    configuration: Worker.Configuration(capacity: 2, gracePeriod: Self.gracePeriod, finishedJobLimit: maxFinished),
                    handlers: [ShellJobHandler.name: await ShellJobHandler.handler(sessionTTL: store.session.ttl)], logger: context.logger))
        }
        let progress = RunProgress(jobs: specs, terminal: StandardStreams.outputIsTerminal)
        let ours = workerList.map(\.id)
        await progress.setWorkers(ours)
        try Self.checkRunnable(specs, by: workerList.map(\.info), scheme: context.storeURL.scheme)
        // The live log reports what finished from here on, though its watches start with the workers.
        let started = Date()
        // A one-shot broadcast runs on the workers live when it is added: added before ours had
        // joined, it reached none of them (and --until-idle waited for it for ever). Such jobs are
        // added once ours have joined; their ids are checked for clashes with the others' now.
        let (atOnce, onceJoined) = Self.heldUntilJoined(specs)
        try await NewJobs.submit(atOnce, to: scheduler, checkingToo: onceJoined)
        // Caught from before the workers start (and anything is said), so that no signal kills
        // the process while they hold runs.
        let signals = SignalListener([SIGINT, SIGTERM])
        defer { signals.stop() }
        if untilIdle {
            for note in Self.distantWaits(specs, now: started) { StandardStreams.writeError(note) }
        }
        let shutdown = Shutdown(workers: workerList, progress: progress, onMemory: context.storeURL.scheme == "memory") {
            // The store says what our workers run; the live view may not have seen the latest claims yet.
            var held: [String: RunProgress.Held] = [:]
            for spec in specs {
                for run in (try? await scheduler.activeRuns(of: spec.id)) ?? [] where run.record.status == .running {
                    if let worker = run.record.worker, ours.contains(worker) {
                        held[spec.id + "/" + run.record.run] = RunProgress.Held(worker: worker, attempt: run.record.attempt)
                    }
                }
            }
            return held
        }
        let untilIdle = untilIdle
        let closer = CutOffCloser()
        // The reading handle too: the summary then says what was last read, at once.
        let closable = workerStores + [client]
        let reader = closable.count - 1
        let outcome = try await withThrowingTaskGroup(
            of: Void.self, returning: (finished: [String: RunProgress.Finished], signal: Int32?, heldAtStop: [String: RunProgress.Held]).self
        ) { tasks in
            tasks.addTask {
                for await signal in signals.signals {
                    closer.stopping()
                    await shutdown.signalled(signal.number)
                }
            }
            tasks.addTask {
                await closer.run(closable, grace: Self.gracePeriod) {
                    await progress.note(
                        "coord: the store is out of reach: not waiting for it; a worker's member and runs go when its session ends, within its TTL")
                }
            }
            if !onceJoined.isEmpty {
                tasks.addTask {
                    do {
                        try await Self.waitUntilJoined(ours, in: scheduler.layout.workers, store: client)
                        try await scheduler.submit(onceJoined)
                    } catch where Task.isCancelled {
                        // Stopped before our workers joined: nothing was added, as the summary shows.
                    } catch {
                        await progress.note("coord: cannot add \(onceJoined.map(\.id).joined(separator: ", ")): \(error)")
                    }
                }
            }
            tasks.addTask {
                do {
                    for try await activity in scheduler.activity(historySince: started) { await progress.apply(activity) }
                } catch is CancellationError {
                } catch where !closer.hasClosed(reader) {
                    context.logger.warning("live progress stopped", metadata: ["error": "\(error)"])
                }
            }
            tasks.addTask {
                while !Task.isCancelled {
                    do {
                        let finished = try await Self.finished(specs, scheduler: scheduler)
                        await progress.update(finished)
                        if untilIdle && Self.isIdle(specs, finished) {
                            await shutdown.drain()
                            return
                        }
                    } catch let error as CoordinationError {
                        // Closed while stopping out of reach: the summary says what was last read.
                        if closer.hasClosed(reader) { return }
                        // Contact lost for a while: the workers ride it out, and so does the display.
                        context.logger.warning("cannot read the jobs' outcomes; trying again", metadata: ["error": "\(error)"])
                    }
                    try await Task.sleep(for: .milliseconds(250))
                }
            }
            // A worker that fails ends the others at once (they hand back what they hold), as a
            // service group would; otherwise they end when drained, all together.
            try await withThrowingTaskGroup(of: Void.self) { running in
                for worker in workerList {
                    running.addTask {
                        do {
                            try await worker.run()
                        } catch where closer.hasClosed {
                            // Its handle was closed out of reach as it stopped: no failure of its own.
                        }
                    }
                }
                while try await running.next() != nil {}
            }
            await shutdown.workersStopped()
            let finished: [String: RunProgress.Finished]
            do {
                finished = try await Self.finished(specs, scheduler: scheduler)
            } catch let error as CoordinationError {
                // Stopped by a signal with the store out of reach: what was last read is the summary.
                guard await shutdown.signal != nil else { throw error }
                let why = closer.hasClosed(reader) ? "the store is out of reach" : "cannot read the outcomes (\(error.message))"
                await progress.note("coord: \(why); the summary is as last read")
                finished = await progress.lastRead
            }
            await progress.update(finished)
            // Cancelled only now: a second signal while the summary is read still exits at once.
            tasks.cancelAll()
            return (finished, await shutdown.signal, await shutdown.heldAtStop)
        }
        Self.printSummary(specs, outcome.finished)
        Self.printLeft(specs, outcome.finished, heldAtStop: outcome.heldAtStop, ours: Set(ours), onMemory: context.storeURL.scheme == "memory")
        // As lock and elect report a signal that ended their wait: 130 for SIGINT, 143 for SIGTERM.
        if let signal = outcome.signal { throw ExitCode(128 + signal) }
        // Idle: a script that waits for the jobs learns whether they did what they should.
        if let problem = Self.unsuccessful(specs, outcome.finished, onMemory: context.storeURL.scheme == "memory") {
            StandardStreams.writeError("coord: " + problem)
            throw ExitCode(ExitStatus.runsFailed.rawValue)
        }
    }

    /// What --until-idle waits for beyond ``distantWait``, one note per job: a one-shot job due
    /// later, a recurring job whose second fire time is far (`0 0 0 29 2 *`). Said at the start,
    /// or coord would seem to hang.
    static func distantWaits(_ specs: [JobSpec], now: Date) -> [String] {
        let far = now.addingTimeInterval(distantWait.seconds)
        return specs.compactMap { spec in
            switch spec.schedule {
            case .once(nil):
                return nil
            case .once(let at?):
                guard at > far else { return nil }
                return "coord: note: --until-idle waits for \(spec.id), due at \(SchedulerTables.time(at)) (Ctrl-C stops)"
            case .cron, .every:
                let first = spec.schedule.nextFireTime(after: now, anchor: now)
                let second = first.flatMap { spec.schedule.nextFireTime(after: $0, anchor: now) }
                guard let second else {
                    return "coord: note: --until-idle waits for \(spec.id) to fire twice, and it will not (Ctrl-C stops)"
                }
                guard second > far else { return nil }
                return "coord: note: --until-idle waits for \(spec.id) to fire twice, the second time at \(SchedulerTables.time(second)) (Ctrl-C stops)"
            }
        }
    }

    /// How far away a wait must be for --until-idle to say so.
    static let distantWait = Duration.seconds(60)

    /// The runs whose last attempt failed, timed out or was abandoned, with no retry to come, as
    /// one line; `nil` when there are none. An attempt that a retry made good does not count.
    static func unsuccessful(_ specs: [JobSpec], _ finished: [String: RunProgress.Finished], onMemory: Bool) -> String? {
        let runs = specs.flatMap { spec in
            (finished[spec.id]?.unsuccessful ?? [:]).map { (key: spec.id + "/" + $0.key, outcome: $0.value) }
        }.sorted { $0.key < $1.key }
        guard !runs.isEmpty else { return nil }
        let shown = runs.prefix(10).map { "\($0.key) (\(SchedulerTables.outcome($0.outcome)))" }.joined(separator: ", ")
        let more = runs.count > 10 ? " and \(runs.count - 10) more" : ""
        // On memory:// the history went with the workers; the lines above said why.
        let why = onMemory ? "" : "; coord runs JOB shows why"
        return "\(runs.count == 1 ? "1 run" : "\(runs.count) runs") did not succeed: \(shown)\(more)\(why)"
    }

    /// How `coord run` stops. Its in-process workers drain together: each stops claiming at once
    /// (drained one after another, as a service group does, a worker not yet draining claimed
    /// what a sibling had just handed back, and started the command again), and each hands back
    /// what it still runs after the grace. A SIGINT after the first signal exits at once, as a
    /// killed process would; a SIGTERM does not, as for `coord worker`.
    actor Shutdown {
        let workers: [Worker]
        let progress: RunProgress
        let onMemory: Bool
        /// What our workers run, from the store, by run key.
        let heldInStore: @Sendable () async -> [String: RunProgress.Held]
        /// The first signal that stopped the workers, if a signal did.
        private(set) var signal: Int32?
        /// The runs our workers held when they were told to stop, by run key (`job/run`).
        private(set) var heldAtStop: [String: RunProgress.Held] = [:]
        private var draining = false
        private var stopped = false

        init(workers: [Worker], progress: RunProgress, onMemory: Bool, heldInStore: @escaping @Sendable () async -> [String: RunProgress.Held]) {
            self.workers = workers
            self.progress = progress
            self.onMemory = onMemory
            self.heldInStore = heldInStore
        }

        func drain() async {
            guard !draining else { return }
            draining = true
            // All at once, before anything is awaited.
            for worker in workers { worker.drain() }
            // Bounded: a store out of reach must not hold up the note (a second signal still exits).
            // Not a task group, which would wait for the read however long its requests take.
            let fromStore = await FirstAnswer.within(.seconds(2), heldInStore)
            heldAtStop = (fromStore ?? [:]).merging(await progress.held(by: Set(workers.map(\.id)))) { stored, _ in stored }
        }

        func workersStopped() { stopped = true }

        func signalled(_ number: Int32) async {
            let name = Shutdown.name(of: number)
            if let first = signal {
                let later = Shutdown.name(of: number, after: first)
                if Shutdown.laterSignalExitsAtOnce(number) { forceExit(later, number) }
                await progress.note("coord: \(later): still stopping (\(Shutdown.laterCutShortHint))")
                return
            }
            signal = number
            if stopped { return }
            await drain()
            let grace = DurationText.format(RunCommand.gracePeriod)
            let after = onMemory ? "then they are stopped" : "then they go back to pending, for other workers"
            await progress.note(
                "coord: \(name): stopping; no new runs start, running commands have \(grace) to finish, \(after) (\(Shutdown.cutShortHint))")
        }

        /// Ends the process now. Its commands die with it (``ShellJobHandler/supervisor``); its
        /// runs stay claimed until its sessions end, as a killed worker's would.
        private func forceExit(_ name: String, _ number: Int32) -> Never {
            let held = heldAtStop.keys.sorted()
            var line = "coord: \(name): exiting at once"
            if !held.isEmpty {
                line += onMemory
                    ? "; \(held.joined(separator: ", ")) \(held.count == 1 ? "ends" : "end") with this process (memory://)"
                    : "; abandoned to takeover: \(held.joined(separator: ", ")) (other workers take \(held.count == 1 ? "it" : "them") over once this process's sessions expire, within their TTL)"
            }
            StandardStreams.writeError(line)
            // _exit, not exit: other threads still run, and must not see the process torn down under them.
            _exit(128 + number)
        }

        static func name(of number: Int32) -> String { number == SIGTERM ? "SIGTERM" : number == SIGINT ? "SIGINT" : "signal \(number)" }

        /// A later signal as its note names it: "again" only when it repeats the first, since a
        /// SIGINT after a SIGTERM is the first SIGINT ("SIGINT after SIGTERM").
        static func name(of number: Int32, after first: Int32) -> String {
            number == first ? "\(name(of: number)) again" : "\(name(of: number)) after \(name(of: first))"
        }

        /// Whether a signal that comes while a stop is under way ends the process at once: a
        /// SIGINT does (Ctrl-C again is someone impatient); a SIGTERM does not, and is only noted:
        /// a supervisor may repeat it, and GNU `timeout` sends it to coord and again to its
        /// process group, which cut `timeout 60 coord run` (or `coord worker`, or `coord migrate
        /// --follow`'s catch-up) short. One rule for every command that stops gracefully.
        static func laterSignalExitsAtOnce(_ number: Int32) -> Bool { number == SIGINT }

        /// How a stop's first note says to cut it short. A SIGINT that coord's parent left ignored
        /// (a script's background job) never reaches coord: offering it would leave the reader
        /// sending signals that do nothing, so the note names SIGKILL.
        static var cutShortHint: String {
            InheritedSignals.wereIgnored(SIGINT)
                ? "SIGINT was ignored when coord started, so only SIGKILL exits at once" : "SIGINT or Ctrl-C now exits at once"
        }

        /// ``cutShortHint`` for the note of a later signal.
        static var laterCutShortHint: String {
            InheritedSignals.wereIgnored(SIGINT) ? "SIGKILL exits at once; SIGINT is ignored" : "SIGINT exits at once"
        }
    }

    /// A job none of this command's workers can run would wait forever (and `--until-idle` with
    /// it): refused on `memory://`, where no other process can run it; on a shared store a note
    /// says that it waits for a `coord worker` that can.
    static func checkRunnable(_ specs: [JobSpec], by workers: [WorkerInfo], scheme: String) throws {
        guard let needs = NewJobs.unrunnable(specs, by: workers) else { return }
        let ours = "coord run's workers run --command jobs (handler '\(ShellJobHandler.name)') and have no labels"
        if scheme == "memory" {
            throw CoordinationError(
                .invalidConfiguration,
                "no worker here can run \(needs): \(ours), and on memory:// no other process can run it; "
                    + "give the job a command and no required labels, or use a shared store with a coord worker that can run it")
        }
        StandardStreams.writeError("coord: note: \(needs) will wait for a coord worker that can run it: \(ours)")
    }

    /// The jobs to add at once, and the one-shot broadcasts, which wait for the workers to join.
    static func heldUntilJoined(_ specs: [JobSpec]) -> (atOnce: [JobSpec], onceJoined: [JobSpec]) {
        let held = { (spec: JobSpec) in spec.placement == .broadcast && !spec.schedule.isRecurring }
        return (specs.filter { !held($0) }, specs.filter(held))
    }

    /// Waits (on a watch of the worker group `group`, the scheduler's own) until every one of
    /// `ids` has joined.
    static func waitUntilJoined(_ ids: [String], in group: Key, store: any CoordinationStore) async throws {
        let wanted = Set(ids)
        for try await members in Membership(store: store, group: group).watch()
        where wanted.isSubset(of: members.map(\.id)) {
            return
        }
    }

    /// Each job's outcomes so far and its active runs, from the store.
    static func finished(_ specs: [JobSpec], scheduler: Scheduler) async throws -> [String: RunProgress.Finished] {
        var result: [String: RunProgress.Finished] = [:]
        for spec in specs {
            var done = RunProgress.Finished()
            // Each run's last attempt: what the run came to, once it is no longer active.
            var last: [String: HistoryEntry] = [:]
            for entry in try await scheduler.history(of: spec.id) {
                done.outcomes[entry.outcome, default: 0] += 1
                if entry.outcome != .skipped && entry.outcome.endsTheRun, let at = entry.scheduledAt { done.fireTimes.insert(at) }
                if let run = entry.run, (entry.attempt ?? 0) >= (last[run]?.attempt ?? 0) { last[run] = entry }
            }
            done.active = try await scheduler.activeRuns(of: spec.id)
            let active = Set(done.active.map(\.record.run))
            for (run, entry) in last where !active.contains(run) && [.failed, .timedOut, .abandoned].contains(entry.outcome) {
                done.unsuccessful[run] = entry.outcome
            }
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
            ["JOB", "SCHEDULE", "ACTIVE"] + outcomes.map { SchedulerTables.outcome($0).uppercased() },
            specs.map { spec in
                let done = finished[spec.id] ?? RunProgress.Finished()
                return [spec.id, SchedulerTables.schedule(spec.schedule), String(done.activeRuns)]
                    + outcomes.map { String(done.outcomes[$0] ?? 0) }
            })
    }

    /// The runs still active when the workers have stopped: those they handed back (still
    /// running after the grace), and those waiting or running elsewhere. On a shared store they
    /// stay, for other workers; on memory:// they end with this process.
    static func printLeft(
        _ specs: [JobSpec], _ finished: [String: RunProgress.Finished], heldAtStop: [String: RunProgress.Held], ours: Set<String>,
        onMemory: Bool
    ) {
        let left = specs.flatMap { finished[$0.id]?.active ?? [] }.sorted { ($0.record.job, $0.record.run) < ($1.record.job, $1.record.run) }
        guard !left.isEmpty else { return }
        StandardStreams.writeLine("")
        StandardStreams.writeLine(
            onMemory ? "left unfinished (memory://: they end with this process):" : "left for other workers (the jobs stay on the store):")
        SchedulerTables.print(
            ["RUN", "STATUS", "ATTEMPT", "NOTE"],
            left.map { active in
                let record = active.record
                let key = record.job + "/" + record.run
                let note: String
                if record.status == .running, let worker = record.worker {
                    note = ours.contains(worker) ? "held by \(worker) until its session ends" : "running on \(worker)"
                } else if let held = heldAtStop[key], held.attempt == record.attempt {
                    note = "handed back by \(held.worker) after the \(DurationText.format(gracePeriod)) grace"
                } else if record.notBefore > Date() {
                    note = "waits until " + SchedulerTables.time(record.notBefore)
                } else {
                    note = "waits for a worker"
                }
                return [key, record.status.rawValue, String(record.attempt), note]
            })
    }
}
