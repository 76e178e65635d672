import ArgumentParser
import Coordination
import CoordinationScheduler
import Foundation
import Logging
import ServiceLifecycle

struct WorkerCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "worker",
        abstract: "Run a scheduler worker that runs shell-command jobs, until SIGTERM or SIGINT.",
        discussion: """
            Joins the workers of the store's scheduler and claims runs of jobs added with \
            `coord job add --command` (the built-in shell handler), up to --capacity at a time. \
            Each command runs under /bin/sh -c with COORD_JOB_ID, COORD_RUN_ID, COORD_SHARD, \
            COORD_SHARDS, COORD_SHARD_PARAM (when given), COORD_ATTEMPT, COORD_FENCING_TOKEN and \
            COORD_WORKER_ID in its environment; a non-zero exit is a failure (retried as the job says); a timeout, \
            a cancel request or a lost session stops it (SIGTERM, then SIGKILL 3 s later, or a \
            tenth of the session TTL when that is shorter: 1 s with the default TTL). The \
            last 4 KB of its stdout and stderr are kept in the job's history (coord runs ID --json). \
            The worker that leads removes each finished one-shot job (no active run left) --keep-finished \
            after its last run ended, with its history, so that the store does not grow without end, \
            and, beyond --max-finished finished jobs, those that finished first, sooner (every job \
            kept is in every worker's view).

            SIGTERM or SIGINT shuts down gracefully: no new claims (coord workers shows the \
            worker as draining, and the others take over its share of the jobs at once), running \
            commands get --grace to finish, what is left is handed back to other workers; then \
            coord exits 0. A SIGINT while it stops (Ctrl-C again) exits at once (130): its runs \
            are taken over once its session ends; a later SIGTERM does not cut the drain short. When the store is out of reach, coord waits for it no \
            longer than --grace and a second. Logs go \
            to stderr (--log-level info shows claims and runs). A store that cannot be opened \
            yet (out of reach, or an etcd whose database is full) is waited for (a warning on each try); a bad URL, refused credentials or bad TLS files end \
            coord at once.

              coord --store etcd://127.0.0.1:2379/myapp worker --capacity 8 --labels zone=a
            """)

    @OptionGroup(title: "Global options") var global: GlobalOptions
    @Option(help: ArgumentHelp("The worker's id (default: hostname-pid).", valueName: "id")) var id: String?
    // Unconditional: a negative value is taken as the value (and refused by name), not as an option.
    @Option(parsing: .unconditional, help: ArgumentHelp("How many handlers (commands) run at once (1 to \(CountLimits.capacity.upperBound)).", valueName: "n")) var capacity: Int = 4
    @Option(parsing: .unconditional, help: ArgumentHelp("Share of planned work for the weighted strategy (1 to \(CountLimits.weight.upperBound)).", valueName: "w")) var weight: Int = 1
    @Option(help: ArgumentHelp("The worker's labels, k=v,… (jobs may require them).", valueName: "k=v,…")) var labels: String?
    @Option(parsing: .unconditional, help: ArgumentHelp("How long a shutdown waits for running commands (default 10s).", valueName: "d")) var grace: String?
    @Option(
        help: ArgumentHelp(
            "While this worker leads: how long a finished one-shot job is kept, with its history, before it is removed (default 1d; 'forever' keeps it).",
            valueName: "d|forever")) var keepFinished: String?
    @Option(
        parsing: .unconditional,
        help: ArgumentHelp(
            "While this worker leads: the most finished one-shot jobs kept; beyond it, those that finished first are removed early.",
            valueName: "n")) var maxFinished: Int = Worker.Configuration().finishedJobLimit ?? 10_000

    /// `--keep-finished`, or the default when it is not given.
    static func retention(_ text: String?) throws -> Duration? {
        guard let text else { return Worker.Configuration().finishedJobRetention }
        guard let retention = Worker.Configuration.retention(text) else {
            throw CommandLineProblem("--keep-finished \(text) is neither a duration (such as 1h, 7d or 0s) nor 'forever'")
        }
        return retention
    }

    func run() async throws {
        let workerConfiguration = Worker.Configuration(
            capacity: capacity, weight: weight, labels: try JobOptions.labels(labels, option: "--labels"),
            gracePeriod: try OptionValue.duration(grace, option: "--grace") ?? .seconds(10),
            finishedJobRetention: try Self.retention(keepFinished), finishedJobLimit: maxFinished)
        let workerID = id ?? Self.defaultID()
        // Checked before the store is opened (the worker checks them again): usage errors, named by flag.
        if let problem = Worker.idProblem(workerID) { throw CommandLineProblem("--id: \(problem)") }
        try CountLimits.check("--capacity", capacity, CountLimits.capacity, "each slot is a shell command that may run at once on this machine")
        guard maxFinished >= 0 else { throw CommandLineProblem("--max-finished must not be negative, got \(maxFinished)") }
        try CountLimits.check("--weight", weight, CountLimits.weight, "it is a share against the other workers' weights, which the leader sums")
        let context = try await CommandContext.make(global)
        if context.storeURL.scheme == "memory" {
            // It would run forever with nothing to do.
            StandardStreams.writeError(
                "coord: note: memory:// lives in this coord process only, so no job added elsewhere can reach this worker; "
                    + "use --store zookeeper://… or etcd://…, or coord run to run jobs here")
        }
        try await context.withStoreWaitingForServer { store in
            let worker = try Worker(
                store: store, id: workerID, configuration: workerConfiguration,
                handlers: [ShellJobHandler.name: await ShellJobHandler.handler(sessionTTL: store.session.ttl)], logger: context.logger)
            context.logger.info("worker starting", metadata: ["worker": "\(workerID)", "store": "\(context.storeURL)"])
            // The signals are coord's, not the group's: a SIGINT while stopping exits at once, and
            // a store out of reach is not waited for once the grace has passed.
            let group = ServiceGroup(
                configuration: ServiceGroupConfiguration(services: [.init(service: worker)], logger: context.logger))
            // Caught until the process exits, never handed back to the default action: a SIGTERM
            // sent again as the worker finishes would otherwise kill it (status 143, not 0).
            let signals = SignalListener([SIGINT, SIGTERM])
            let closer = CutOffCloser()
            let grace = workerConfiguration.gracePeriod
            try await withThrowingTaskGroup(of: Void.self) { tasks in
                tasks.addTask {
                    // The signal that started the stop, which names the later ones.
                    var first: Int32?
                    for await signal in signals.signals {
                        let name = RunCommand.Shutdown.name(of: signal.number)
                        if let first {
                            let later = RunCommand.Shutdown.name(of: signal.number, after: first)
                            if RunCommand.Shutdown.laterSignalExitsAtOnce(signal.number) { Self.exitAtOnce(signal.number, named: later) }
                            StandardStreams.writeError("coord: \(later): still stopping (\(RunCommand.Shutdown.laterCutShortHint))")
                            continue
                        }
                        first = signal.number
                        StandardStreams.writeError(
                            "coord: \(name): stopping; no new runs start, running commands have \(DurationText.format(grace)) to finish, "
                                + "then they go back to pending, for other workers (\(RunCommand.Shutdown.cutShortHint))")
                        closer.stopping()
                        await group.triggerGracefulShutdown()
                    }
                }
                tasks.addTask {
                    await closer.run([store], grace: grace) {
                        StandardStreams.writeError(
                            "coord: the store is out of reach: not waiting for it; this worker's member and runs go when its session ends, within its TTL")
                    }
                }
                do {
                    try await group.run()
                } catch where closer.hasClosed {
                    // Its handle was closed out of reach as it stopped: no failure of its own.
                }
                tasks.cancelAll()
            }
        }
    }

    /// Ends the process on a SIGINT while it stops. Its commands die with it (``ShellJobHandler``'s
    /// supervisor); its runs stay claimed until its session ends, as a killed worker's would.
    private static func exitAtOnce(_ number: Int32, named name: String) -> Never {
        StandardStreams.writeError(
            "coord: \(name): exiting at once; other workers take over its runs once its session ends, within its TTL")
        // _exit, not exit: other threads still run, and must not see the process torn down under them.
        _exit(128 + number)
    }

    /// `hostname-pid`, made a valid key segment.
    static func defaultID() -> String {
        let host = ProcessInfo.processInfo.hostName.split(separator: ".").first.map(String.init) ?? "worker"
        let safe = host.map { $0.isLetter || $0.isNumber || $0 == "-" || $0 == "_" ? $0 : "-" }
        return String(safe.isEmpty ? Array("worker") : safe) + "-\(getpid())"
    }
}
