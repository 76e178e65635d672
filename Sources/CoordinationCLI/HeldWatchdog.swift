import Coordination
import Foundation
import Subprocess
import Synchronization
import SystemPackage

/// The watchdog of a command that `coord lock`, `coord elect` or `coord members --join` runs:
/// `coord __lifeline SECONDS --mark TOKEN` (``LifelineCommand``), a process of its own started
/// before the command, fed coord's beats (``LifelineBeat``), which name the command once it runs.
/// It SIGKILLs every process carrying the command's mark in its environment (the command, and
/// what it started, even after a double fork or a `setsid`) and the command's descendants when
/// the beats stop (coord frozen: SIGSTOP, a debugger, a stalled machine) or the pipe reaches end
/// of file with any of them running (coord killed). Without it, a coord killed with SIGKILL left
/// its command running, an orphan, while the next holder ran: the lock held twice at once. The
/// session guard alone cannot help there: it runs inside coord.
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

    /// Starts the watchdog of a command about to start with `mark` in its environment, and
    /// returns once it runs (or could not be started). ``Running/watch(_:)`` names the command
    /// once it has started; ``Running/finish()`` once it has exited.
    func start(mark: String) async throws -> Running {
        let running = Running()
        let beat = try LifelineBeat { [beat] in
            var next = beat()
            next.root = running.root
            return next
        }
        running.beat = beat
        let seconds = String(Double(lifeline.window.components.seconds) + Double(lifeline.window.components.attoseconds) / 1e18)
        let (spawned, spawn) = AsyncStream<pid_t>.makeStream()
        running.process = Task { [executable = lifeline.executable] in
            let ended = try? await Subprocess.run(
                .path(FilePath(executable)), arguments: ["__lifeline", seconds, "--mark", mark],
                input: .fileDescriptor(FileDescriptor(rawValue: beat.readEnd), closeAfterSpawningProcess: false),
                output: .discarded, error: .discarded
            ) { execution in
                spawn.yield(execution.processIdentifier.value)
            }
            spawn.finish()
            return ended?.terminationStatus == .exited(LifelineCommand.killedStatus)
        }
        // Started before the command, and before the beats can stop: the pipe's read end is closed with them.
        for await watchdog in spawned {
            running.started(watchdog)
            break
        }
        return running
    }

    /// A watchdog at work.
    final class Running: Sendable {
        private struct State {
            var beat: LifelineBeat?
            var pid: pid_t?
            var root: pid_t?
            var process: Task<Bool, Never>?
        }
        private let state = Mutex(State())

        fileprivate init() {}

        fileprivate var beat: LifelineBeat? {
            get { state.withLock { $0.beat } }
            set { state.withLock { $0.beat = newValue } }
        }

        fileprivate var process: Task<Bool, Never>? {
            get { state.withLock { $0.process } }
            set { state.withLock { $0.process = newValue } }
        }

        fileprivate func started(_ pid: pid_t) { state.withLock { $0.pid = pid } }

        /// The watchdog's process id once it runs (what coord's own clean-up must spare).
        var pid: pid_t? { state.withLock { $0.pid } }

        /// The command, as the next beats name it.
        fileprivate var root: pid_t? { state.withLock { $0.root } }

        /// Names the command, started as process `pid`: its descendants are killed too, even
        /// one that cleared its environment.
        func watch(_ pid: pid_t) { state.withLock { $0.root = pid } }

        /// Ends the watchdog once the command has exited: the pipe's end of file makes it look
        /// once more (nothing of the command's left running: nothing to kill) and exit. Returns
        /// once it has, with whether it had killed anything (coord was frozen for longer than
        /// its window).
        func finish() async -> Bool {
            beat?.stop()
            return await process?.value ?? false
        }
    }
}
