import ArgumentParser
import Coordination
import CoordinationScheduler
import Foundation

struct JobCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "job",
        abstract: "Add, show, remove, pause, resume, trigger or cancel a scheduled job.",
        discussion: """
            Jobs live in the store (under /scheduler); `coord worker` processes \
            (or workers in your own programs) run them. See also: coord jobs, coord runs ID, \
            coord workers, coord run.

              coord job add nightly --command 'make backup' --cron '0 0 3 * * *' \\
                  --retries 2
              coord job add resize --command './resize.sh "$COORD_SHARD_PARAM"' \\
                  --shards 3 --shard-params small,medium,large
              coord job trigger nightly
            """,
        subcommands: [JobAdd.self, JobShow.self, JobControl.Remove.self, JobControl.Pause.self, JobControl.Resume.self,
            JobControl.Trigger.self, JobControl.Cancel.self])
}

struct JobAdd: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "add",
        abstract: "Submit a job.",
        discussion: """
            Without --cron, --every or --at the job runs once, now. --command runs a shell \
            command on `coord worker`; --handler names code registered in your own workers. \
            With --file, submits every job of a jobs file (see coord run --example) instead.

            A command's environment: COORD_JOB_ID; COORD_RUN_ID (one per fire time and item, \
            the same on a retry); COORD_SHARD, the item, 0 to COORD_SHARDS - 1; COORD_SHARDS; \
            COORD_SHARD_PARAM, the item's --shard-params entry (when given); COORD_ATTEMPT, 1 \
            for the first; COORD_FENCING_TOKEN, a number larger for every later claim of the \
            job, for a sink to refuse older writers; COORD_WORKER_ID.

            Every job is checked, and the store asked whether any of their ids exists, before \
            anything is written: a bad job adds nothing (status 64 for a bad flag, 7 for a bad \
            jobs file), nor \
            does an id that exists (status 3, naming every such id; coord job rm them first). \
            Jobs are written several to a transaction: should another client add one of the \
            ids between the check and the writes, the jobs of the transactions before it stay.

            Schedules (in UTC unless a cron expression names its zone):
              --cron EXPR  6 fields: second minute hour day month weekday
                           ('0 30 2 * * *' is 02:30:00 daily), or the classic 5
                           without seconds ('30 2 * * *'). A field takes *, 5,
                           1-5, 1,3, */15 or 1-30/2; month and weekday names
                           too (JAN, MON-FRI); the day fields ? as *. Macros:
                           @yearly, @monthly, @weekly, @daily, @hourly. A
                           first word CRON_TZ=ZONE reads the fields on ZONE's
                           clock ('CRON_TZ=Europe/Paris 0 0 3 * * *'); a time
                           the clocks skip fires as they jump, one they repeat
                           fires once.
              --every D    first fires one interval after the job is added
                           (coord job trigger runs it at once); at least 10ms.
              --at T       2026-01-31T12:00:00Z or 2026-01-31T13:00:00+01:00 (Z
                           or an offset is required), or +D from now (+10m);
                           a time already past runs now; either, or one over
                           a year ahead, gets a note on stderr.
            Durations (--every, --timeout, --backoff, +D): one number in digits
            (a point for a fraction: 1.5s) and one unit, ms, s, m, h or d (500ms,
            30s, 90m, 2d); a bare number is seconds; 1h30m is written 90m.

            Strategies (--strategy), who runs each run:
              compete          the default: any worker able to; first claim wins
              round-robin      the leader assigns runs to workers in turn
              random           the leader assigns each run to a random worker
              least-loaded     the leader assigns each run to the worker with
                               the most free capacity
              weighted         the leader assigns in proportion to the
                               workers' --weight
              consistent-hash  the leader assigns by a hash ring over worker
                               ids: each item sticks to one worker, which gets
                               its share back when it returns
              broadcast        every live worker able to runs each fire time
                               (not with --shards)
            A --shards job's items keep their workers from one fire time to the
            next under round-robin, least-loaded and weighted too: spread by the
            workers' --capacity (--weight for weighted), and moved as little as
            possible when workers come or go.
            A worker is able to run a job when it has the job's handler (coord
            worker has the shell one, for --command) and all of its --labels.

            Overlap (--overlap), a fire time while a run is still active:
              queue (the default) runs it after; skip records it as skipped;
              replace cancels the active run and runs the new one.
            Misfire (--misfire, --cron and --every only), fire times the leader
            found late (no worker was running then):
              fire-once-now (the default) runs the latest once; skip records
              them as skipped.

            Examples:
              coord job add nightly --command './backup.sh' --cron '0 0 3 * * *' \\
                  --retries 3 --backoff 30s --timeout 30m
              coord job add poll --command 'curl -fsS http://svc/health' --every 30s \\
                  --overlap skip
              coord job add resize --command './resize.sh "$COORD_SHARD_PARAM"' \\
                  --shard-params small,medium,large --strategy consistent-hash
              coord job add report --command 'make report' --at 2026-01-31T08:00:00+01:00
              coord job add cleanup --command 'rm -rf /tmp/cache/*' --strategy broadcast \\
                  --labels role=web
              coord job add --file jobs.json     (coord run --example prints one)
            """)

    @OptionGroup(title: "Global options") var global: GlobalOptions
    @Argument(help: "The job's id (one key segment).") var id: String?
    @OptionGroup(title: "Job") var job: JobOptions
    @Option(help: ArgumentHelp("Submit the jobs of a JSON jobs file (- for standard input).", valueName: "jobs.json")) var file: String?
    @Flag(help: "Print each submitted job as a JSON object.") var json = false

    func run() async throws {
        let specs: [JobSpec]
        switch (id, file) {
        case (let id?, nil): specs = [try job.spec(id: id, now: Date())]
        case (nil, let file?):
            guard !job.anyGiven else { throw CommandLineProblem("--file cannot go with flags that define a job") }
            specs = try JobsFile.decode(try await Self.read(file), source: file)
            // Adding nothing succeeds (a generated file may hold no job), but not in silence.
            if specs.isEmpty { StandardStreams.writeError("coord: note: \(JobsFile.emptyNote(file)): nothing was added") }
        case (nil, nil): throw CommandLineProblem("give the job's ID (or --file JOBS.json)")
        case (_?, _?): throw CommandLineProblem("give a job ID or --file, not both")
        }
        let context = try await CommandContext.make(global)
        try await context.withScheduler { scheduler in
            try await NewJobs.submit(specs, to: scheduler)
            for spec in specs {
                if json { StandardStreams.writeLine(JobsFile.line(spec)) } else { StandardStreams.writeLine("added \(spec.id)") }
            }
            // Runs no live worker can take wait, pending, without a word from anyone: say so now
            // (on memory:// no worker is ever live, and its own note says why).
            guard context.storeURL.scheme != "memory" else { return }
            // Best effort: the jobs are added; a failed look at the workers must not fail the command.
            guard let live = try? await scheduler.workers().map(\.info).filter({ !$0.draining }) else { return }
            // A broadcast does not wait: its fire time is for the workers live then, none here.
            let broadcasts = specs.filter { $0.placement == .broadcast }
            if let unreached = NewJobs.unrunnable(broadcasts, by: live) {
                StandardStreams.writeError(
                    "coord: note: no live worker can run broadcast \(unreached): a broadcast runs on the workers able to run it "
                        + "when it fires (a one-shot one when it is added), on none while there are none; coord job trigger "
                        + "runs it on those live then")
            }
            if let waiting = NewJobs.unrunnable(specs.filter { $0.placement != .broadcast }, by: live) {
                StandardStreams.writeError(
                    "coord: note: no live worker can run \(waiting) yet; runs wait, pending, until a worker that can joins "
                        + "(coord worker runs --command jobs, handler '\(ShellJobHandler.name)', with the labels it is given; "
                        + "coord workers lists the live ones)")
            }
        }
    }

    /// A jobs file's bytes: `-` is stdin; any other path is opened as it is, so that `/dev/null`
    /// and a shell's `<(…)` (a FIFO) read like files.
    static func read(_ path: String) async throws -> [UInt8] {
        func unreadable(_ why: String) -> CoordinationError {
            CoordinationError(.invalidConfiguration, "cannot read jobs file \(path): \(why)")
        }
        if path == "-" || path == "/dev/stdin" {
            do { return try await StandardStreams.readAll() } catch { throw unreadable(error.description) }
        }
        do {
            return try await StandardStreams.readFile(path, for: "jobs file \(path)")
        } catch {
            throw unreadable(error.reason + (error.isDirectory ? "; give the JSON file in it" : ""))
        }
    }
}

struct JobShow: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "show", abstract: "Show a job's definition and state (status 2 when there is none).",
        discussion: """
            A job whose coord job rm stopped halfway (or is under way) shows the state removing, \
            with no next fire time (--json: "removing": true): it no longer fires and refuses \
            changes, and coord job rm ID finishes its removal.
            """)

    @OptionGroup(title: "Global options") var global: GlobalOptions
    @Argument(help: "The job's id.") var id: String
    @Flag(help: "Print one JSON object: the spec (as a jobs file gives it), the state, the next fire time, the active runs and, while its removal is unfinished, removing: true; times outside the spec in ISO 8601, as every --json of coord gives them.")
    var json = false

    struct ShowJSON: Encodable {
        let spec: JobSpec
        let state: StateJSON
        let nextFire: String?
        let activeRuns: Int
        /// Present (true) only while the job's removal is unfinished.
        let removing: Bool?
    }

    /// The job's state with its times as the other --json outputs give times (the stored record
    /// keeps epoch milliseconds).
    struct StateJSON: Encodable {
        let paused: Bool
        let lastMaterialized: String?
        let triggers: Int
        let submittedAt: String?
        let itemAssignment: [String: String]
        /// A resume no leader has settled yet (it settles which fire times were paused).
        let resumedAt: String?

        init(_ state: JobState) {
            paused = state.paused
            lastMaterialized = SchedulerTables.jsonTime(state.lastMaterialized)
            triggers = state.triggers
            submittedAt = SchedulerTables.jsonTime(state.submittedAt)
            itemAssignment = Dictionary(uniqueKeysWithValues: state.itemAssignment.map { (String($0.key), $0.value) })
            resumedAt = SchedulerTables.jsonTime(state.resumedAt)
        }
    }

    func run() async throws {
        try JobLookup.checkIDs([id])
        let context = try await CommandContext.make(global)
        try await context.withScheduler { scheduler in
            guard let view = try await scheduler.job(id) else { throw JobLookup.missing(id) }
            let active = try await scheduler.activeRuns(of: id)
            let removing = try await scheduler.isBeingRemoved(view)
            // After the output, as a reader of the terminal meets it.
            defer { if removing { StandardStreams.writeError(JobsTable.unfinishedRemovalNote(id)) } }
            let next = removing ? nil : SchedulerTables.nextFire(view, activeRuns: active.count, now: Date())
            if json {
                StandardStreams.writeLine(
                    JobsFile.line(
                        ShowJSON(
                            spec: view.spec, state: StateJSON(view.state), nextFire: SchedulerTables.jsonTime(next),
                            activeRuns: active.count, removing: removing ? true : nil)))
                return
            }
            let spec = view.spec
            let handler =
                spec.handler == ShellJobHandler.name
                ? "shell: " + String(decoding: spec.payload, as: UTF8.self) : spec.handler
            // A one-shot job has no misfire policy (job add refuses --misfire on one): none is shown.
            let misfire = if case .once = spec.schedule { "-" } else { spec.misfire == .fireOnceNow ? "fire-once-now" : "skip" }
            var lines: [(String, String)] = [
                ("id", spec.id), ("handler", handler), ("schedule", SchedulerTables.schedule(spec.schedule)),
                ("state", removing ? JobsTable.removing : SchedulerTables.state(view, activeRuns: active.count)),
                ("next fire", SchedulerTables.time(next, on: { if case .cron(let cron) = spec.schedule { cron.timeZone } else { nil } }())),
                ("shards", String(spec.shards)), ("strategy", JobsTable.strategyName(spec.placement)),
                ("priority", String(spec.priority)), ("labels", SchedulerTables.labels(spec.requiredLabels)),
                ("timeout", spec.timeout.map(DurationText.format) ?? "-"),
                ("retries", "\(spec.retry.maxRetries) (back-off \(DurationText.format(spec.retry.backoffBase)))"),
                ("misfire", misfire), ("overlap", spec.overlap.rawValue),
                ("submitted", SchedulerTables.time(view.state.submittedAt)), ("active runs", String(active.count)),
            ]
            if !spec.shardParameters.isEmpty { lines.insert(("shard params", spec.shardParameters.joined(separator: ",")), at: 6) }
            let width = lines.map(\.0.count).max() ?? 0
            for (name, value) in lines {
                StandardStreams.writeLine(name + ":" + String(repeating: " ", count: width - name.count + 1) + value)
            }
        }
    }
}

/// The commands that act on jobs by id, one or more each (rm, trigger and cancel say what they did).
enum JobControl {
    /// What each of these commands says of a job that does not exist, in its --help.
    static func missingRule(_ doneToOthers: String) -> String {
        """
        When some of the jobs do not exist, the command still \(doneToOthers) and ends with \
        status 2, naming the missing ones. An id no job can have (a/b, ..) is refused \
        with status 64 before anything is done.
        """
    }

    struct Remove: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "rm", abstract: "Remove jobs, their active runs (running ones are cancelled) and their history.",
            discussion: """
                Removes each job given, printing "removed ID" for each. \(JobControl.missingRule("removes the others"))

                A run in flight is stopped by its worker once it sees the removal, at once as a rule \
                (a command gets SIGTERM, then SIGKILL 3 s later, or a tenth of the session TTL when \
                that is shorter: 1 s with the default TTL; not coord worker's --grace, which is for \
                its shutdown); rm does not wait for that, and the run's end is recorded nowhere: the \
                history goes with the job. To see a run end first, coord job cancel ID, then \
                coord runs ID, then rm.

                An rm that stops partway (killed, or the store unreachable) may leave the job no \
                longer fired and refusing changes, shown as removing by coord jobs and coord job \
                show: rm it again to finish.
                """)
        @OptionGroup(title: "Global options") var global: GlobalOptions
        @Argument(help: "The ids of the jobs to remove.") var ids: [String]

        func run() async throws {
            try await EachJob.act(global, ids: ids, othersDone: "the others were removed") { scheduler, id in
                try await scheduler.remove(id)
                StandardStreams.writeLine("removed \(id)")
            }
        }
    }

    struct Pause: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "pause", abstract: "Stop firing and claiming jobs' runs (running ones finish).",
            discussion: "Pauses each job given. \(JobControl.missingRule("pauses the others"))")
        @OptionGroup(title: "Global options") var global: GlobalOptions
        @Argument(help: "The ids of the jobs to pause.") var ids: [String]
        func run() async throws {
            try await EachJob.act(global, ids: ids, othersDone: "the others were paused") { scheduler, id in
                // Silent either way, a second pause would not tell a mistyped intent from a done one.
                let already = try await scheduler.job(id)?.state.paused == true
                try await scheduler.pause(id)
                if already { StandardStreams.writeError("coord: note: \(id) was already paused") }
            }
        }
    }

    struct Resume: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "resume", abstract: "Resume paused jobs (fire times passed while paused are not run).",
            discussion: "Resumes each job given. \(JobControl.missingRule("resumes the others"))")
        @OptionGroup(title: "Global options") var global: GlobalOptions
        @Argument(help: "The ids of the jobs to resume.") var ids: [String]
        func run() async throws {
            try await EachJob.act(global, ids: ids, othersDone: "the others were resumed") { scheduler, id in
                let notPaused = try await scheduler.job(id).map { !$0.state.paused } ?? false
                try await scheduler.resume(id)
                if notPaused { StandardStreams.writeError("coord: note: \(id) was not paused") }
            }
        }
    }

    struct Trigger: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "trigger", abstract: "Run jobs once now, whatever their schedules; prints the new run ids.",
            discussion: """
                Prints each new run's id on a line of its own: just the run id for one job, \
                JOB/RUN (as coord run shows runs) when several jobs are given, so that a script \
                can tell whose run each is. A paused job's new runs wait until it is resumed; \
                stderr says so. A broadcast gets one run for each live worker able to run it, so \
                none when there is none; stderr says so too. \(JobControl.missingRule("triggers the others"))
                """)
        @OptionGroup(title: "Global options") var global: GlobalOptions
        @Argument(help: "The ids of the jobs to trigger.") var ids: [String]
        func run() async throws {
            // The one-job output stays the bare run ids that scripts already read.
            let several = Set(ids).count > 1
            try await EachJob.act(global, ids: ids, othersDone: "the others were triggered") { scheduler, id in
                let runs: [String]
                do {
                    runs = try await scheduler.trigger(id)
                } catch var error as CoordinationError where error.code == .connectionLoss || error.code == .timeout {
                    // Triggering again blindly could run the job twice (one after the other).
                    error.message += "; the trigger may have been made all the same: coord runs \(id) shows its runs "
                        + "(a trigger's start with t-) before you trigger again"
                    throw error
                }
                // Neither a job id nor a run id holds a '/' (each is one key segment): the line splits at it.
                for run in runs { StandardStreams.writeLine(several ? "\(id)/\(run)" : run) }
                // Only a broadcast makes no run: one per worker able to run it, and none was live
                // (or, to many, the job was removed while its runs were made). Silence would read
                // as a trigger that worked.
                if runs.isEmpty {
                    StandardStreams.writeError(
                        "coord: note: no live worker can run broadcast \(id): this trigger ran nowhere (a broadcast runs on "
                            + "the workers able to run it when it fires); trigger again once one has joined (coord workers "
                            + "lists the live ones), unless \(id) was removed (perhaps added again) as its runs were being made")
                }
                if try await scheduler.job(id)?.state.paused == true {
                    StandardStreams.writeError("coord: note: \(id) is paused: its new runs wait until coord job resume \(id)")
                }
            }
        }
    }

    struct Cancel: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "cancel", abstract: "Cancel jobs' active runs (the schedules stay).",
            discussion: """
                Pending runs are removed; running ones are asked to stop (their workers record them \
                as cancelled). Prints a line for each job whose runs it cancelled, naming it and \
                what was done; a job with no active run is noted on stderr, as pause and resume \
                note theirs. \(JobControl.missingRule("cancels the others' runs"))
                """)
        @OptionGroup(title: "Global options") var global: GlobalOptions
        @Argument(help: "The ids of the jobs whose runs to cancel.") var ids: [String]
        func run() async throws {
            try await EachJob.act(global, ids: ids, othersDone: "the others' runs were cancelled") { scheduler, id in
                // stdout carries what was done, for scripts; that nothing was is a note, as pause's.
                if let done = Self.summary(of: try await scheduler.cancel(id), job: id) {
                    StandardStreams.writeLine(done)
                } else {
                    StandardStreams.writeError("coord: note: \(id) has no active run: nothing to cancel")
                }
            }
        }

        /// What was cancelled of `job`'s runs, nil when it had none active.
        static func summary(of cancellation: Scheduler.Cancellation, job: String) -> String? {
            func runs(_ count: Int) -> String { count == 1 ? "1 run" : "\(count) runs" }
            var parts: [String] = []
            if !cancellation.removed.isEmpty { parts.append("removed \(runs(cancellation.removed.count)) pending") }
            if !cancellation.askedToStop.isEmpty { parts.append("asked \(runs(cancellation.askedToStop.count)) running to stop") }
            return parts.isEmpty ? nil : "\(job): " + parts.joined(separator: ", ")
        }
    }
}
