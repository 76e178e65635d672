import Coordination
import Foundation
import Subprocess
import Synchronization
import SystemPackage

/// The watchdog of a command that `coord lock`, `coord elect` or `coord members --join` runs:
/// `coord __lifeline SECONDS --tree PID --mark TOKEN` (``LifelineCommand``), a process of its own
/// beside the command, fed coord's beats (``LifelineBeat``). It SIGKILLs the command, everything
/// below it and every process that carries the command's mark in its environment (one that a
/// double fork or a `setsid` took out of the tree) when the beats stop (coord frozen: SIGSTOP, a
/// debugger, a stalled machine) or the pipe reaches end of file with the command still running
/// (coord killed). Without it, a coord killed with SIGKILL left its command running, an orphan,
/// while the next holder ran: the lock held twice at once. The session guard alone cannot help
/// there: it runs inside coord.
struct HeldWatchdog: Sendable {
    let lifeline: ShellJobHandler.Lifeline
    /// The beat to send now.
    let beat: @Sendable () -> ShellJobHandler.Lifeline.Beat
    /// The environment variable that marks the command and what it starts.
    static let markVariable = "COORD_HOLD_MARK"

    /// A watchdog for commands run while `store`'s session holds something exclusive (a lock,
    /// leadership): the worker's beats, each allowing at most half a TTL and never past a beat
    /// before the session may end, so that a frozen coord's command is dead before the next
    /// holder may start. `nil` where this process's executable cannot serve as one (then a
    /// command dies only with coord's own stop).
    static func holding(_ store: any CoordinationStore) async -> HeldWatchdog? {
        guard let lifeline = await ShellJobHandler.Lifeline.ofThisProcess(sessionTTL: store.session.ttl) else { return nil }
        return HeldWatchdog(lifeline: lifeline) { lifeline.beat(store.session, now: .now) }
    }

    /// A watchdog that catches a killed or frozen coord only: every beat allows the whole
    /// window, whatever the session does (a member joins again after an expiry; its command
    /// runs on meanwhile).
    static func ofProcess(sessionTTL: Duration) async -> HeldWatchdog? {
        guard let lifeline = await ShellJobHandler.Lifeline.ofThisProcess(sessionTTL: sessionTTL) else { return nil }
        let steady = ShellJobHandler.Lifeline.Beat(allowance: lifeline.window, interval: lifeline.beat)
        return HeldWatchdog(lifeline: lifeline) { steady }
    }

    /// Starts watching process `pid` (just started, its environment marked with `mark`) and
    /// returns once the watchdog runs (or could not be started); ``Running/finish()`` once the
    /// command has exited.
    func start(over pid: pid_t, mark: String) async throws -> Running {
        let beat = try LifelineBeat(beat)
        let seconds = String(Double(lifeline.window.components.seconds) + Double(lifeline.window.components.attoseconds) / 1e18)
        let running = Running(beat: beat)
        let (spawned, spawn) = AsyncStream<pid_t>.makeStream()
        running.process = Task { [executable = lifeline.executable] in
            let ended = try? await Subprocess.run(
                .path(FilePath(executable)), arguments: ["__lifeline", seconds, "--tree", String(pid), "--mark", mark],
                input: .fileDescriptor(FileDescriptor(rawValue: beat.readEnd), closeAfterSpawningProcess: false),
                output: .discarded, error: .discarded
            ) { execution in
                spawn.yield(execution.processIdentifier.value)
            }
            spawn.finish()
            return ended?.terminationStatus == .exited(LifelineCommand.killedStatus)
        }
        // Started before the beats can stop: the pipe's read end is closed with them.
        for await watchdog in spawned {
            running.started(watchdog)
            break
        }
        return running
    }

    /// A watchdog at work.
    final class Running: Sendable {
        private let beat: LifelineBeat
        private let state = Mutex<(pid: pid_t?, process: Task<Bool, Never>?)>((nil, nil))

        fileprivate init(beat: LifelineBeat) { self.beat = beat }

        fileprivate var process: Task<Bool, Never>? {
            get { state.withLock { $0.process } }
            set { state.withLock { $0.process = newValue } }
        }

        fileprivate func started(_ pid: pid_t) { state.withLock { $0.pid = pid } }

        /// The watchdog's process id once it runs (what coord's own clean-up must spare).
        var pid: pid_t? { state.withLock { $0.pid } }

        /// Ends the watchdog once the command has exited: the pipe's end of file makes it look
        /// at the command once more (ended: nothing to kill) and exit. Returns once it has, with
        /// whether it had killed the command (coord was frozen for longer than its window).
        func finish() async -> Bool {
            beat.stop()
            return await process?.value ?? false
        }
    }
}
