import Coordination
import Foundation
import Subprocess
import Synchronization
import SystemPackage

/// The watchdog of a command that `coord lock` or `coord elect` runs: `coord __lifeline --tree
/// PID` (``LifelineCommand``), a process of its own beside the command, fed coord's beats
/// (``LifelineBeat``). It SIGKILLs the command and everything below it when the beats stop
/// before the session may end (coord frozen: SIGSTOP, a debugger, a stalled machine) or the
/// pipe reaches end of file with the command still running (coord killed). Without it, a coord
/// killed with SIGKILL left its command running, an orphan, while the next holder ran: the lock
/// held twice at once. The session guard alone cannot help there: it runs inside coord.
///
/// The beats are the worker's (``ShellJobHandler/Lifeline``): each allows the command at most
/// half a TTL, never past a beat before the session may end, so a frozen coord's command is
/// dead before its session can expire and the lock go to the next holder.
struct HeldWatchdog: Sendable {
    let lifeline: ShellJobHandler.Lifeline
    /// The hold's session as it stands now.
    let session: @Sendable () -> SessionEvent

    /// A watchdog for commands run while `store`'s session holds something; `nil` where this
    /// process's executable cannot serve as one (then a command dies only with coord's own stop).
    static func of(_ store: any CoordinationStore) async -> HeldWatchdog? {
        guard let lifeline = await ShellJobHandler.Lifeline.ofThisProcess(sessionTTL: store.session.ttl) else { return nil }
        return HeldWatchdog(lifeline: lifeline, session: { store.session })
    }

    /// Starts watching process `pid` (just started) and returns once the watchdog runs (or
    /// could not be started); ``Running/finish()`` once the command has exited.
    func start(over pid: pid_t) async throws -> Running {
        let beat = try LifelineBeat { [lifeline, session] in lifeline.beat(session(), now: .now) }
        let seconds = String(Double(lifeline.window.components.seconds) + Double(lifeline.window.components.attoseconds) / 1e18)
        let running = Running(beat: beat)
        let (spawned, spawn) = AsyncStream<pid_t>.makeStream()
        running.process = Task { [executable = lifeline.executable] in
            _ = try? await Subprocess.run(
                .path(FilePath(executable)), arguments: ["__lifeline", seconds, "--tree", String(pid)],
                input: .fileDescriptor(FileDescriptor(rawValue: beat.readEnd), closeAfterSpawningProcess: false),
                output: .discarded, error: .discarded
            ) { execution in
                spawn.yield(execution.processIdentifier.value)
            }
            spawn.finish()
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
        private let state = Mutex<(pid: pid_t?, process: Task<Void, Never>?)>((nil, nil))

        fileprivate init(beat: LifelineBeat) { self.beat = beat }

        fileprivate var process: Task<Void, Never>? {
            get { state.withLock { $0.process } }
            set { state.withLock { $0.process = newValue } }
        }

        fileprivate func started(_ pid: pid_t) { state.withLock { $0.pid = pid } }

        /// The watchdog's process id once it runs (what coord's own clean-up must spare).
        var pid: pid_t? { state.withLock { $0.pid } }

        /// Ends the watchdog once the command has exited: the pipe's end of file makes it look
        /// at the command once more (ended: nothing to kill) and exit. Returns once it has.
        func finish() async {
            beat.stop()
            await process?.value
        }
    }
}
