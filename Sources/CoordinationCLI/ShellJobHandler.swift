import Coordination
import CoordinationScheduler
import Foundation
import Subprocess
import Synchronization
import SystemPackage

/// The built-in `shell` handler of `coord worker` and `coord run`: the payload is a command for
/// `/bin/sh -c`, run with the run's identity in its environment. A non-zero exit fails the
/// attempt (the job's retry policy decides what follows); the last few KB of stdout and stderr go
/// into the history entry, also when the run is stopped. Cancellation (timeout, cancel request,
/// lost session, shutdown) stops the command: SIGTERM to its process group, then SIGKILL to
/// what is left of the group after `grace`; the handler returns only once nothing of the group
/// runs (see ``endProcessGroup(_:killAt:)``), so the run cannot be taken over while its command
/// still runs. A worker that dies without cancelling (SIGKILL, a crash), or stops without
/// cancelling (SIGSTOP, frozen) while its session runs out, takes its commands with it: see
/// ``supervisor`` and ``Lifeline``.
enum ShellJobHandler {
    static let name = "shell"
    /// How much of each stream the history keeps.
    static let tailLimit = HistoryEntry.textLimit

    static func handler(grace: Duration = .seconds(3), lifeline: Lifeline? = nil) -> JobHandler {
        { context in try await run(context, grace: grace, lifeline: lifeline) }
    }

    /// The handler of a `coord` worker whose session has `sessionTTL`: its SIGKILL comes at most
    /// 3 s after the SIGTERM, and within half the worker's self-fencing margin, so that a cut-off
    /// worker's command is gone before its run can be taken over (with the default TTL of 10 s,
    /// 1 s); and its commands have a watchdog (``Lifeline``).
    static func handler(sessionTTL: Duration) async -> JobHandler {
        handler(grace: grace(sessionTTL: sessionTTL), lifeline: await Lifeline.ofThisProcess(sessionTTL: sessionTTL))
    }

    /// The watchdog of each command: `coord __lifeline` (``LifelineCommand``), which SIGKILLs the
    /// command's process group when the worker's beats (``LifelineBeat``) stop for `window`.
    ///
    /// A stopped worker's run can be taken over once its session has expired: a TTL after its
    /// last keep-alive, which was at most a third of a TTL before it stopped; so two thirds of a
    /// TTL after the stop at the earliest. Its last beat came before the stop, so the command is
    /// dead at most half a TTL after it. Beats every tenth of a TTL: five in a row must fail to
    /// come before a busy machine kills a command whose worker is fine.
    struct Lifeline: Sendable, Hashable {
        /// The `coord` executable that runs `__lifeline`.
        var executable: String
        var window: Duration
        var beat: Duration

        init(executable: String, sessionTTL: Duration) {
            self.executable = executable
            window = sessionTTL / 2
            beat = max(sessionTTL / 10, .milliseconds(50))
        }

        /// What one beat tells the watchdog, and when the next one comes.
        struct Beat: Sendable, Hashable {
            /// How long the watchdog may let the command run without a further beat.
            var allowance: Duration
            /// How long until the next beat.
            var interval: Duration
            /// The command the watchdog is to kill (`coord lock`'s, told once it has started).
            var root: pid_t? = nil
        }

        /// The beat to send now for a command whose claim's session is `session`.
        ///
        /// The whole window, but never past a beat before the session may end: a TTL after its
        /// last confirmed contact (``SessionEvent/lastContact``, kept current while connected),
        /// and nothing once that is past (the command dies at once). A healthy session's last
        /// contact is at most a third of a TTL old (plus a round trip), so it gets the whole
        /// window, or nearly. A worker whose
        /// contact stops has its commands' allowance shrink from then on, whether or not its client
        /// has noticed yet (ZooKeeper's notices after two thirds of a TTL, etcd's when a
        /// keep-alive is overdue): stopped at any moment, its commands are dead before its run
        /// can be taken over. Before, a connected session's beat allowed the whole window, and a
        /// stop in the moments before the client noticed left a command running up to a sixth of
        /// a TTL past the session. When contact comes back, the next beat allows the whole window again.
        ///
        /// Window and interval follow the session's TTL when it is shorter than the one the
        /// worker started with (a server that grants less than was asked, seen once the worker
        /// connects): half of it, and a tenth. The beat interval to spare also covers a beat
        /// read late by the watchdog (still starting, or scheduled late): the allowance counts
        /// from when the beat was sent (``LifelineCommand/beatLine(allowing:sentAt:)``).
        func beat(_ session: SessionEvent, now: ContinuousClock.Instant) -> Beat {
            let whole = min(window, session.ttl / 2)
            // Five beats per window, however short a TTL the server granted.
            let interval = max(min(beat, whole / 5), .milliseconds(1))
            let sessionMayEnd = session.safeUntil ?? session.lastContact.advanced(by: session.ttl)
            return Beat(allowance: max(.zero, min(whole, now.duration(to: sessionMayEnd) - interval)), interval: interval)
        }

        /// This process's own executable (``CoordExecutable``), once it has answered
        /// `__lifeline --check` as `coord` does; `nil` where it cannot be found (then a command
        /// dies with its worker's process, not with a stopped one). Started through the dynamic
        /// loader (`ld.so coord …`) or an emulator, `/proc/self/exe` is that: exec'ed as the
        /// watchdog it failed at once, and the command had neither a watchdog nor the shell loop,
        /// so it outlived a killed worker.
        static func ofThisProcess(sessionTTL: Duration) async -> Lifeline? {
            guard let path = await CoordExecutable.find() else { return nil }
            return Lifeline(executable: path, sessionTTL: sessionTTL)
        }

        /// Whether `path __lifeline --check` prints ``LifelineCommand/checkAnswer`` and exits 0
        /// within 10 s (a program that ignores its arguments must not hold the worker's start).
        /// Asked once per process: `coord run` starts several workers from the same executable.
        static func answersAsWatchdog(_ path: String) async -> Bool {
            if let known = checked.withLock({ $0[path] }) { return known }
            let answer = await askWatchdog(path)
            checked.withLock { $0[path] = answer }
            return answer
        }

        private static let checked = Mutex<[String: Bool]>([:])

        private static func askWatchdog(_ path: String) async -> Bool {
            await withTaskGroup(of: Bool.self) { group in
                group.addTask {
                    let result = try? await Subprocess.run(
                        .path(FilePath(path)), arguments: ["__lifeline", "--check"], input: .none, output: .string(limit: 256),
                        error: .discarded)
                    guard let result, result.terminationStatus.isSuccess else { return false }
                    return result.standardOutput.trimmingCharacters(in: .whitespacesAndNewlines) == LifelineCommand.checkAnswer
                }
                group.addTask {
                    try? await Task.sleep(for: .seconds(10))
                    return false
                }
                let answer = await group.next() ?? false
                group.cancelAll()
                return answer
            }
        }
    }

    static func grace(sessionTTL: Duration) -> Duration {
        min(.seconds(3), Worker.selfFencingMargin(sessionTTL: sessionTTL) / 2)
    }

    /// The variables a command finds in its environment.
    static func environment(for context: RunContext) -> [String: String] {
        var variables = [
            "COORD_JOB_ID": context.job,
            "COORD_RUN_ID": context.run,
            "COORD_SHARD": String(context.item),
            "COORD_SHARDS": String(context.itemCount),
            "COORD_ATTEMPT": String(context.attempt),
            "COORD_FENCING_TOKEN": String(context.fencingToken),
            "COORD_WORKER_ID": context.worker,
        ]
        if let parameter = context.itemParameter { variables["COORD_SHARD_PARAM"] = parameter }
        return variables
    }

    /// The shell script each command runs under, with the command as `$1`, and the watchdog's
    /// executable and seconds as `$2` and `$3` (empty: none). Its standard input is the worker's
    /// lifeline: a pipe whose write end only the worker holds, beating (``LifelineBeat``). The
    /// watchdog (``Lifeline``) reads it, and kills the script's process group (itself, the command
    /// and whatever the command started) when the beats stop or the pipe reaches end of file, as it
    /// does when the worker's process ends, however it ends. Without it a worker killed with
    /// SIGKILL left its command running while its run was taken over by another worker: the job
    /// ran twice at once; and so did a worker stopped with SIGSTOP. SIGKILL at once, not SIGTERM
    /// and a grace: the run may be taken over as soon as the worker's lease ends. Without a
    /// watchdog executable, a shell loop reads the pipe to its end instead (a worker's death
    /// only). The command's own exit (status or signal) is passed on as the script's (and the
    /// shell's own report of it, "Terminated", kept out of the command's stderr).
    ///
    /// The script and its watchdog ignore SIGTERM (the command, started before, does not): a
    /// stop's SIGTERM to the group would otherwise end the script while a command that ignores
    /// SIGTERM runs on, and the stop, seeing the script gone, would never send its SIGKILL. So
    /// the script lives as long as its command, and the watchdog with it. The watchdog is `exec`ed,
    /// one process without children, so that the script's one SIGKILL ends it.
    static let supervisor = #"""
        exec 3<&0
        /bin/sh -c "$1" 3<&- </dev/null &
        command=$!
        trap '' TERM
        {
            if [ -n "$2" ] && [ -x "$2" ]; then exec "$2" __lifeline "$3" <&3 3<&- >/dev/null 2>&1; fi
            while read -r _ <&3; do :; done; kill -KILL 0
        } </dev/null &
        lifeline=$!
        exec 3<&-
        wait "$command" 2>/dev/null
        status=$?
        kill -KILL "$lifeline" 2>/dev/null
        trap - TERM
        if [ "$status" -gt 128 ]; then kill -s "$(kill -l "$status")" $$; fi
        exit "$status"
        """#

    static func run(_ context: RunContext, grace: Duration, lifeline: Lifeline? = nil) async throws -> RunOutput {
        let command = String(decoding: context.payload, as: UTF8.self)
        guard !command.trimmingCharacters(in: .whitespacesAndNewlines).isEmpty else {
            throw RunFailure("the job's payload holds no shell command")
        }
        var options = PlatformOptions()
        // A process group of its own, signalled as a whole: `sh -c 'sleep 5'` must not leave its
        // `sleep` running (and holding the output pipes open) after the shell got SIGTERM.
        options.processGroupID = 0
        options.teardownSequence = [.gracefulShutDown(toProcessGroup: true, allowedDurationToNextStep: grace)]
        var updates: [Environment.Key: String?] = [:]
        for (name, value) in environment(for: context) { updates[Environment.Key(stringLiteral: name)] = value }
        let group = ProcessGroup()
        let beat = try LifelineBeat {
            // Without a watchdog, only the pipe's end of file counts: any beat will do.
            lifeline?.beat(context.session, now: .now) ?? Lifeline.Beat(allowance: .seconds(10), interval: .seconds(1))
        }
        defer { beat.stop() }
        let watchdog = lifeline.map { [$0.executable, String($0.window.seconds)] } ?? ["", ""]
        // The signals coord's parent left ignored (SIGHUP under nohup) stay ignored for the
        // command, as for coord lock's: through coord, which ignores them and execs the shell.
        let argv = ["/bin/sh", "-c", supervisor, "coord-job", command] + watchdog
        let (executable, arguments) =
            await IgnoringExec.wrapping(argv, ignoring: InheritedSignals.ignoredAtStart) ?? (argv[0], Array(argv.dropFirst()))
        let tails: (out: String, err: String)
        let status: TerminationStatus
        do {
            (tails, status) = try await withTaskCancellationHandler {
                let result = try await Subprocess.run(
                    .path(FilePath(executable)), arguments: Arguments(arguments),
                    environment: .inherit.updating(updates), platformOptions: options,
                    input: .fileDescriptor(FileDescriptor(rawValue: beat.readEnd), closeAfterSpawningProcess: false),
                    output: .sequence, error: .sequence
                ) { execution in
                    group.started(execution.processIdentifier.value)
                    // Read in a task of its own, which a stop does not cut short: returning at the
                    // stop would close the pipes on what the command writes during its grace. The
                    // streams end when the supervisor does, even while something it started holds
                    // them.
                    let (output, error) = (execution.standardOutput, execution.standardError)
                    return try await Task {
                        // Both streams are drained concurrently, or a command filling one pipe would block.
                        async let out = tail(of: output)
                        async let err = tail(of: error)
                        return try await (out, err)
                    }.value
                }
                return (result.closureResult, result.terminationStatus)
            } onCancel: {
                group.stopping()
            }
        } catch {
            await group.end(grace: grace)
            throw error
        }
        // The supervisor has ended; what it started may not have (a stop's SIGTERM ignored by
        // something the command left behind, or received before the supervisor ignored it).
        await group.end(grace: grace)
        let out = tails.out.isEmpty ? nil : tails.out
        let err = tails.err.isEmpty ? nil : tails.err
        let ending: String =
            switch status {
            case .exited(let code): "exited with status \(code)"
            case .signaled(let signal): "was killed by signal \(signal)"
            }
        // A stopped run is the worker's to record (timed out, cancelled…), with these tails.
        if Task.isCancelled {
            throw RunFailure("command was stopped: it \(ending)", stdoutTail: out, stderrTail: err)
        }
        if case .exited(0) = status {
            return RunOutput(message: nil, stdoutTail: out, stderrTail: err)
        }
        throw RunFailure(failureMessage(ending: ending, status: status, stderrTail: err), stdoutTail: out, stderrTail: err)
    }

    /// A failed command's message, for `coord runs`' table (which shows no tails): the shell's
    /// 127 and 126 ("no such command", "cannot execute") also quote the shell's last word on
    /// stderr, which names the command, since "exited with status 127" alone tells nobody.
    static func failureMessage(ending: String, status: TerminationStatus, stderrTail: String?) -> String {
        let why: String
        switch status {
        case .exited(127): why = "the shell's status for a command not found"
        case .exited(126): why = "the shell's status for a command found but not executable"
        default: return "command \(ending)"
        }
        let last = stderrTail?.split(separator: "\n").last(where: { !$0.allSatisfy(\.isWhitespace) }).map { ": " + $0 } ?? ""
        return "command \(ending), \(why)\(last)"
    }

    /// The process group of one command (its supervisor leads it), and when it was told to stop.
    final class ProcessGroup: Sendable {
        private let state = Mutex<(id: pid_t?, stopAt: ContinuousClock.Instant?)>((nil, nil))

        func started(_ leader: pid_t) { state.withLock { $0.id = leader } }

        /// The task was cancelled: Subprocess's teardown sends SIGTERM to the group now.
        func stopping() { state.withLock { $0.stopAt = $0.stopAt ?? .now } }

        /// When the group was told to stop: waits until nothing of it runs, SIGKILLing what is
        /// left `grace` after the SIGTERM. Not when it was not (a command's own end leaves what
        /// it started in the background alone, as before). Not cut short by cancellation: the
        /// caller's run must not end while the command runs.
        func end(grace: Duration) async {
            let (id, stopAt) = state.withLock { $0 }
            guard let id, let stopAt else { return }
            await Task { await ShellJobHandler.endProcessGroup(id, killAt: stopAt + grace) }.value
        }
    }

    /// Waits until no process of group `group` runs (zombies do not count: they run nothing,
    /// and nobody may ever reap those of a parent that ended); SIGKILLs the group at `killAt`
    /// if anything of it still runs then. The group's number cannot be reused meanwhile: it stays
    /// taken while any member is left.
    static func endProcessGroup(_ group: pid_t, killAt: ContinuousClock.Instant) async {
        var killed = false
        // Not our children (they outlived their parent, the supervisor): no event tells of their
        // end, so the process table is read every 20 ms.
        while processGroupRuns(group) {
            if !killed && ContinuousClock.now >= killAt {
                kill(-group, SIGKILL)
                killed = true
            }
            try? await Task.sleep(for: .milliseconds(20))
        }
    }

    /// Whether a process of group `group` that this process may signal runs (is not a zombie):
    /// one that became another user's (`sudo`) could be waited for forever, killed never. From
    /// Linux's /proc; where there is none, whether the group has any member at all.
    static func processGroupRuns(_ group: pid_t) -> Bool {
        // No member at all (not even a zombie): the common case, without reading /proc.
        guard kill(-group, 0) == 0 || errno == EPERM else { return false }
        guard let entries = ProcessTable.entries() else { return true }
        return entries.contains { $0.group == group && $0.runs && kill($0.pid, 0) == 0 }
    }

    /// At most the last ``tailLimit`` bytes of a stream, as text: see ``OutputTail`` for how a cut shows.
    static func tail(of stream: SubprocessOutputSequence) async throws -> String {
        var kept: [UInt8] = []
        var total = 0
        for try await buffer in stream {
            buffer.withUnsafeBytes { bytes in
                kept.append(contentsOf: bytes)
                total += bytes.count
            }
            if kept.count > 2 * tailLimit { kept.removeFirst(kept.count - tailLimit) }
        }
        return OutputTail.text(ofLast: kept, total: total, limit: tailLimit)
    }
}
