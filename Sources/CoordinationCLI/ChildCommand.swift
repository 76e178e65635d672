import CoordinationRecipes
import Foundation
import Subprocess
import Synchronization
import SystemPackage

/// Runs a command given on coord's command line as a child process sharing coord's standard
/// streams. Cancelling the calling task stops the child: SIGTERM, then SIGKILL after `grace`.
/// Whatever the command started and left running is stopped the same way before `run` returns
/// (``CommandLeftovers``): only the `coord` process itself may call it, which it makes a child
/// subreaper.
enum ChildCommand {
    /// Runs `argv` and returns its exit status (128 + the signal number if a signal ended it).
    /// While it runs, `forwarder` passes coord's signals on to it.
    /// With a `watchdog`, the command and what it started die when coord does, or freezes.
    static func run(
        _ argv: [String], environment: [String: String] = [:], grace: Duration = .seconds(5), forwarder: SignalForwarder? = nil,
        watchdog: HeldWatchdog? = nil
    ) async throws -> Int32 {
        guard let program = argv.first else {
            throw CommandLineProblem("no command given after --")
        }
        // A signal that came before the command started ends coord instead: do not start it.
        if let forwarder, !forwarder.mayStart() { throw CancellationError() }
        var ended: Int32?
        defer { forwarder?.ended(status: ended) }
        var options = PlatformOptions()
        options.teardownSequence = [.gracefulShutDown(allowedDurationToNextStep: grace)]
        var executable: Executable = program.contains("/") ? .path(FilePath(program)) : .name(program)
        var arguments = Array(argv.dropFirst())
        // The signals coord's parent left ignored stay ignored for the command, as without coord.
        if let wrapped = await IgnoringExec.wrapping(argv, ignoring: InheritedSignals.ignoredAtStart) {
            executable = .path(FilePath(wrapped.executable))
            arguments = wrapped.arguments
        }
        var updates: [Environment.Key: String?] = [:]
        for (name, value) in environment { updates[Environment.Key(stringLiteral: name)] = value }
        // What the watchdog knows the command's processes by, wherever they go.
        let mark = String(UInt64.random(in: 1...UInt64.max), radix: 16)
        if watchdog != nil { updates[Environment.Key(stringLiteral: HeldWatchdog.markVariable)] = mark }
        CommandLeftovers.adopt()
        let leftovers = CommandLeftovers()
        // Before the command: a coord killed the moment after it started must not leave it running.
        let guarded = try? await watchdog?.start(mark: mark)
        if let helper = guarded?.pid { leftovers.spare(helper) }
        let termination: TerminationStatus
        let killedByWatchdog: Bool
        do {
            let execution = try await Subprocess.run(
                executable,
                arguments: Arguments(arguments),
                environment: .inherit.updating(updates),
                platformOptions: options,
                input: .fileDescriptor(.standardInput, closeAfterSpawningProcess: false),
                output: .fileDescriptor(.standardOutput, closeAfterSpawningProcess: false),
                error: .fileDescriptor(.standardError, closeAfterSpawningProcess: false)
            ) { execution in
                // Signals go to the command only until it has exited: Subprocess reaps it (and its
                // process id may be reused) only after this returns.
                let pid = execution.processIdentifier.value
                leftovers.started(pid)
                guarded?.watch(pid)
                forwarder?.started { number in try? execution.send(signal: Signal(rawValue: number)) }
                await withTaskCancellationHandler {
                    await waitForExit(pid)
                } onCancel: {
                    leftovers.stopping()
                }
                forwarder?.exited()
                // While the command is a zombie, its process id is not reused.
                await leftovers.end(grace: grace)
                // Whether the watchdog killed it.
                return await guarded?.finish() == true
            }
            termination = execution.terminationStatus
            killedByWatchdog = execution.closureResult
        } catch is SubprocessError {
            _ = await guarded?.finish()
            // It never started: say why, and give the status a shell gives (127 not found, 126 not runnable).
            let (status, why) = notStarted(program)
            StandardStreams.writeError("coord: cannot run \(program): \(why)")
            ended = status
            return status
        } catch {
            // Whatever else ended the run: the watchdog's beats and process go with it.
            _ = await guarded?.finish()
            throw error
        }
        switch termination {
        case .exited(let code): ended = Int32(code)
        case .signaled(let signal): ended = 128 + Int32(signal)
        }
        // coord was frozen for longer than what it held could be trusted: the hold is lost,
        // whichever coord learns first on waking, its session's end or the command's (whose
        // status, the watchdog's SIGKILL, said nothing of the hold: 137 or 11 by a race).
        if killedByWatchdog {
            throw RecipeError.sessionLost(
                "coord was stopped or frozen for longer than what it held could be trusted, and its watchdog killed \(program)")
        }
        return ended ?? ExitStatus.failure.rawValue
    }

    /// Returns once process `pid` has exited, leaving it to be reaped by whoever started it
    /// (`WNOWAIT`). Waits on a thread of its own, never on the cooperative pool.
    private static func waitForExit(_ pid: pid_t) async {
        await withCheckedContinuation { (continuation: CheckedContinuation<Void, Never>) in
            Thread {
                var info = siginfo_t()
                while waitid(P_PID, id_t(pid), &info, WEXITED | WNOWAIT) != 0 && errno == EINTR {}
                continuation.resume()
            }.start()
        }
    }
}

/// Passes the signals coord receives on to the command it runs (`coord lock`, `coord elect`),
/// and kills the command if it is still running `grace` after the first one. Tells the caller
/// when there is no command to pass a signal to: before it started, or after it exited.
final class SignalForwarder: Sendable {
    private enum Phase {
        case notStarted
        /// Cleared to start; signals that come meanwhile wait for it.
        case starting(pending: [ReceivedSignal])
        case running(send: @Sendable (Int32) -> Void)
        case exited
        /// A signal came before the command started: it will not start.
        case refused
    }
    private struct State {
        var phase = Phase.notStarted
        var killer: Task<Void, Never>?
        var status: Int32?
    }
    private let state = Mutex(State())
    private let grace: Duration

    init(grace: Duration = .seconds(5)) { self.grace = grace }

    /// The command's exit status, once it has ended.
    var status: Int32? { state.withLock { $0.status } }

    /// Passes `signal` on to the command, unless a terminal sent it to the whole process group (the
    /// command has it already). Returns `false` when no command runs or is starting: then coord
    /// itself should stop.
    func forward(_ signal: ReceivedSignal) -> Bool {
        state.withLock { state in
            switch state.phase {
            case .notStarted:
                state.phase = .refused
                return false
            case .starting(let pending):
                state.phase = .starting(pending: pending + [signal])
                return true
            case .running(let send):
                if signal.sentByProcess { send(signal.number) }
                armKiller(&state)
                return true
            case .exited, .refused:
                return false
            }
        }
    }

    /// Whether the command may start (no signal came first).
    func mayStart() -> Bool {
        state.withLock { state in
            guard case .notStarted = state.phase else { return false }
            state.phase = .starting(pending: [])
            return true
        }
    }

    /// The command runs; `send` delivers a signal to it. Signals that came while it started are delivered now.
    func started(send: @escaping @Sendable (Int32) -> Void) {
        state.withLock { state in
            guard case .starting(let pending) = state.phase else { return }
            state.phase = .running(send: send)
            for signal in pending { send(signal.number) }
            if !pending.isEmpty { armKiller(&state) }
        }
    }

    /// The command has exited (not yet reaped): no more signals to it.
    func exited() {
        state.withLock { state in
            state.phase = .exited
            state.killer?.cancel()
        }
    }

    /// The command's run is over, with its status if it had one.
    func ended(status: Int32?) {
        state.withLock { state in
            if case .refused = state.phase {} else { state.phase = .exited }
            state.killer?.cancel()
            state.status = status
        }
    }

    private func armKiller(_ state: inout State) {
        guard state.killer == nil else { return }
        let grace = grace
        state.killer = Task { [self] in
            guard (try? await Task.sleep(for: grace)) != nil else { return }
            self.state.withLock { state in
                if case .running(let send) = state.phase { send(SIGKILL) }
            }
        }
    }
}

extension ChildCommand {
    /// Why `program` could not be started, with a shell's status for it.
    static func notStarted(_ program: String) -> (status: Int32, why: String) {
        guard program.contains("/") else { return (127, "no such command on PATH") }
        var isDirectory: ObjCBool = false
        guard FileManager.default.fileExists(atPath: program, isDirectory: &isDirectory) else { return (127, "no such file") }
        if isDirectory.boolValue { return (126, "it is a directory") }
        // By its mode bits: the permission check passes any file for root.
        var info = stat()
        let executableBits = stat(program, &info) == 0 ? info.st_mode & 0o111 : 0o111
        if executableBits == 0 || !FileManager.default.isExecutableFile(atPath: program) {
            return (126, "it is not executable (chmod +x?)")
        }
        // The kernel runs a binary or a script naming its interpreter; a shell would try any
        // other file as a shell script, and coord does not. Only a regular file is read (a FIFO
        // would block), and only its first bytes.
        let regular = info.st_mode & S_IFMT == S_IFREG
        let head = regular ? FileHandle(forReadingAtPath: program).flatMap { try? $0.read(upToCount: 4) }.map([UInt8].init) ?? [] : []
        let binaryMagic: [[UInt8]] = [
            [0x7F, 0x45, 0x4C, 0x46],  // ELF
            [0xFE, 0xED, 0xFA, 0xCE], [0xFE, 0xED, 0xFA, 0xCF], [0xCE, 0xFA, 0xED, 0xFE], [0xCF, 0xFA, 0xED, 0xFE], [0xCA, 0xFE, 0xBA, 0xBE],  // Mach-O
        ]
        if !head.isEmpty && !binaryMagic.contains(where: head.starts(with:)) && !head.starts(with: Array("#!".utf8)) {
            return (126, "it is neither a binary nor a script starting with #! (to run it as a shell script: sh \(program))")
        }
        return (126, "the system refused to start it")
    }
}
