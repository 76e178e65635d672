import CProcessControl
import Foundation
import Synchronization

/// What a command run by `coord lock` or `coord elect` started and left running when it ended or
/// was stopped: stopped too, before the hold is released, since it would go on working
/// unprotected beside the next holder. coord makes itself a child subreaper first (``adopt()``),
/// so that what the command leaves behind stays coord's descendant even after a double fork or a
/// `setsid`, which a process group would lose.
final class CommandLeftovers: Sendable {
    private struct State {
        /// When the command was told to stop; what is left gets SIGKILL a grace after it.
        var stopAt: ContinuousClock.Instant?
        /// Descendants sent SIGTERM already: one each (a second is "hurry" to some programs).
        var signalled: Set<pid_t> = []
    }
    private let state = Mutex(State())
    /// The command itself, which Subprocess signals and reaps.
    private let command: Mutex<pid_t?> = Mutex(nil)
    /// coord's own helpers beside the command (its watchdog), which Subprocess reaps: no leftovers.
    private let spared: Mutex<Set<pid_t>> = Mutex([])

    /// Makes this process a child subreaper. Only `coord` itself may: every process orphaned
    /// below it comes to it (see ``end(grace:)``, which reaps them). Where it cannot (not Linux),
    /// orphans go to init as before and only what stays below the command is found.
    static func adopt() {
        _ = cprocess_become_child_subreaper()
    }

    /// The command started as process `pid`.
    func started(_ pid: pid_t) { command.withLock { $0 = pid } }

    /// Process `pid` is coord's own helper, not something the command left.
    func spare(_ pid: pid_t) { _ = spared.withLock { $0.insert(pid) } }

    /// The command is being stopped (its task was cancelled: the hold was lost); Subprocess
    /// sends it SIGTERM. What it started gets SIGTERM now too.
    func stopping() {
        state.withLock { $0.stopAt = $0.stopAt ?? .now }
        terminate(running())
    }

    /// Once the command has exited (not yet reaped): SIGTERM to whatever of its descendants still
    /// runs, SIGKILL to what is left `grace` after the first SIGTERM; returns when nothing runs.
    /// Not cut short by cancellation: the hold must not be released while any of it runs.
    func end(grace: Duration) async {
        await Task { [self] in
            var left = running()
            guard !left.isEmpty else { return reapAdopted() }
            let killAt = state.withLock { state in
                state.stopAt = state.stopAt ?? .now
                return state.stopAt! + grace
            }
            terminate(left)
            var killed = false
            while !left.isEmpty {
                if !killed && ContinuousClock.now >= killAt {
                    send(SIGKILL, to: left)
                    killed = true
                }
                // Not our children, most of them: no event tells of their end.
                try? await Task.sleep(for: .milliseconds(20))
                reapAdopted()
                left = running()
                if killed { send(SIGKILL, to: left) }
            }
            reapAdopted()
        }.value
    }

    private func terminate(_ pids: [pid_t]) {
        let fresh = state.withLock { state in pids.filter { state.signalled.insert($0).inserted } }
        send(SIGTERM, to: fresh)
    }

    /// Sends `signal` to each of `pids` (our descendants when the table was read) that still is
    /// one: a process that ended meanwhile may have given its number to another, which must not
    /// get it. A pidfd pins the process; it is ours if its parent is us, the command (whose
    /// children are still its own while it runs: a stop's SIGTERM reaches them then) or one of `pids`.
    private func send(_ signal: Int32, to pids: [pid_t]) {
        var ours = Set(pids).union([getpid()])
        if let command = command.withLock({ $0 }) { ours.insert(command) }
        for pid in pids {
            let pidfd = cprocess_pidfd_open(pid)
            guard pidfd >= 0 else {
                // Gone (ESRCH); or a kernel without pidfds (before 5.3): as good as it gets there.
                if errno == ENOSYS { kill(pid, signal) }
                continue
            }
            defer { close(pidfd) }
            guard let entry = ProcessTable.entry(of: pid), ours.contains(entry.parent) else { continue }
            _ = cprocess_pidfd_send_signal(pidfd, signal)
        }
    }

    /// Our running descendants that we may signal, the command excluded (Subprocess stops it):
    /// one that became another user's (`sudo`) could be waited for forever, killed never.
    private func running() -> [pid_t] {
        let command = command.withLock { $0 }
        let spared = spared.withLock { $0 }
        guard let entries = ProcessTable.entries() else { return [] }
        return ProcessTable.descendants(of: getpid(), in: entries)
            .filter { $0.runs && $0.pid != command && !spared.contains($0.pid) && kill($0.pid, 0) == 0 }.map(\.pid)
    }

    /// Reaps the orphans that came to us as subreaper and have ended; never the command, which
    /// Subprocess reaps.
    private func reapAdopted() {
        let command = command.withLock { $0 }
        let spared = spared.withLock { $0 }
        guard let entries = ProcessTable.entries() else { return }
        for entry in entries where entry.parent == getpid() && !entry.runs && entry.pid != command && !spared.contains(entry.pid) {
            _ = waitpid(entry.pid, nil, WNOHANG)
        }
    }
}
