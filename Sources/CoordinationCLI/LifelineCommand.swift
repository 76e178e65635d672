import ArgumentParser
import CProcessControl
import Foundation

/// `coord __lifeline SECONDS` (hidden): the watchdog a shell job's supervisor script starts in its
/// command's process group, reading the worker's beats on standard input (``LifelineBeat``), each
/// a line with the milliseconds it may wait for the next (at most SECONDS). It SIGKILLs the whole
/// group when no beat has come in that time (the worker is stopped or frozen:
/// SIGSTOP, a debugger, a stall, while its session runs out and its run is taken over) or at end
/// of file (the worker's process ended, however it ended). Fencing protects only what checks the
/// token; this keeps the command itself from running beside the attempt that takes its run over.
///
/// A process of its own, with no children, so that the script can end it with one signal. Not a
/// shell loop: `read` in `/bin/sh` has no timeout, and a `sleep` timer would outlive the script.
///
/// With `--mark TOKEN` it kills the processes whose environment holds `COORD_HOLD_MARK=TOKEN`,
/// and the command its beats name (a third field, once it has started) with its descendants,
/// instead of its own process group, and exits with ``killedStatus`` if any of them still ran:
/// `coord lock`, `elect` and `members --join` start it before their command, which shares coord's
/// process group (a terminal's Ctrl-C and reads reach it as they would without coord) and whose
/// detached processes (a double fork, a `setsid`) leave its tree but keep its environment. Started
/// first, it covers the command from its first instant: a coord killed before it could name its
/// command still leaves nothing marked running.
struct LifelineCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "__lifeline", abstract: "Internal: a shell job's watchdog.", shouldDisplay: false)

    /// What `--check` prints: a worker runs it once to learn that its executable is `coord`.
    static let checkAnswer = "coord-lifeline"

    @Argument(help: "Seconds without a beat after which the process group is killed.")
    var seconds: Double?

    @Flag(help: .hidden)
    var check = false

    @Option(help: .hidden)
    var mark: String?

    /// The exit status of a `--mark` watchdog that killed what still ran.
    static let killedStatus: Int32 = 3

    func validate() throws {
        if check { return }
        guard let seconds, seconds > 0, seconds.isFinite else { throw ValidationError("seconds must be positive") }
    }

    func run() {
        guard let seconds, !check else {
            print(Self.checkAnswer)
            return
        }
        if mark != nil {
            // In coord's process group: a terminal's signals reach it too, and only coord's end
            // or its frozen beats may end it. coord ends it by closing the pipe once its command
            // has exited.
            for number in [SIGINT, SIGTERM, SIGHUP, SIGQUIT] { signal(number, SIG_IGN) }
        }
        // The command, once a beat names it: pinned at once, so its number cannot be reused
        // while this is open. A kernel without pidfds (before 5.3), or a sandbox that refuses
        // them: plain numbers, as good as it gets there. ESRCH: it had ended already.
        var root: pid_t?
        var pinned: Int32 = -1
        let window = Duration.milliseconds(Int64(min(seconds * 1000, 86_400_000).rounded(.up)))
        var buffer = [UInt8](repeating: 0, count: 512)
        var pending: [UInt8] = []
        var deadline = ContinuousClock.now + window
        while true {
            let left = deadline - ContinuousClock.now
            guard left > .zero else { break }
            let milliseconds = left.components.seconds * 1000 + left.components.attoseconds / 1_000_000_000_000_000 + 1
            var ready = pollfd(fd: STDIN_FILENO, events: Int16(POLLIN), revents: 0)
            let polled = poll(&ready, 1, Int32(milliseconds))
            if polled < 0 && errno == EINTR { continue }
            guard polled > 0 else { break }  // an error, or no beat in time
            let count = read(STDIN_FILENO, &buffer, buffer.count)
            if count < 0 && (errno == EINTR || errno == EAGAIN) { continue }
            guard count > 0 else { break }  // end of file: the worker is gone
            pending += buffer[..<count]
            // The last whole line of what was read counts: the worker's latest word so far.
            guard let end = pending.lastIndex(of: 10) else { continue }
            let line = pending[..<end].split(separator: 10, omittingEmptySubsequences: false).last ?? []
            pending.removeSubrange(...end)
            let text = String(decoding: line, as: UTF8.self)
            if mark != nil, root == nil, let named = Self.root(of: text) {
                pinned = cprocess_pidfd_open(named)
                if pinned >= 0 || errno != ESRCH { root = named }
            }
            deadline = ContinuousClock.now + Self.allowance(of: text, window: window, now: Self.monotonicNanoseconds())
        }
        if let mark {
            if Self.killAll(root: root, pinned: pinned, marked: "\(HeldWatchdog.markVariable)=\(mark)") {
                Foundation.exit(Self.killedStatus)
            }
        } else {
            kill(0, SIGKILL)
        }
    }

    /// SIGKILLs the process `root` (through `pinned`, a pidfd taken when a beat named it, so
    /// that a number reused since never gets the signal; below 0 where there are none), every
    /// descendant, and every process whose environment holds `marked` (`NAME=TOKEN`). They are
    /// frozen first (SIGSTOP), then killed: a killed parent's children would go to init, out of
    /// reach. Returns whether any of them still ran (the command ended, a zombie, does not count).
    static func killAll(root: pid_t?, pinned: Int32, marked: String?) -> Bool {
        var ran = false
        if let root, ProcessTable.entry(of: root)?.runs == true {
            ran = true
            if pinned >= 0 { _ = cprocess_pidfd_send_signal(pinned, SIGSTOP) } else { kill(root, SIGSTOP) }
        }
        let me = getpid()
        var frozen: [pid_t] = []
        var seen: Set<pid_t> = Set([me] + (root.map { [$0] } ?? []))
        let mark = marked.map { Array($0.utf8) }
        // Again while new ones appear: one may have forked while the table was read.
        for _ in 0..<20 {
            guard let entries = ProcessTable.entries() else { break }
            var found = root.map { ProcessTable.descendants(of: $0, in: entries).filter(\.runs).map(\.pid) } ?? []
            if let mark {
                found += entries.filter { $0.runs && !seen.contains($0.pid) && ProcessTable.environment(of: $0.pid, holds: mark) }.map(\.pid)
            }
            let fresh = found.filter { seen.insert($0).inserted }
            if fresh.isEmpty { break }
            for pid in fresh { kill(pid, SIGSTOP) }
            frozen += fresh
        }
        if let root, ran { if pinned >= 0 { _ = cprocess_pidfd_send_signal(pinned, SIGKILL) } else { kill(root, SIGKILL) } }
        for pid in frozen { kill(pid, SIGKILL) }
        return ran || !frozen.isEmpty
    }

    /// A beat's line: the milliseconds the watchdog may wait for the next, counted from `sentAt`
    /// (``monotonicNanoseconds()`` when the worker wrote it), so that a beat read late (the
    /// watchdog still starting, or scheduled late) allows no more than the worker meant.
    /// With `root`, a third field names the command to kill.
    static func beatLine(allowing allowance: Duration, sentAt: Int64 = monotonicNanoseconds(), root: pid_t? = nil) -> String {
        "\(max(0, allowance.components.seconds * 1000 + allowance.components.attoseconds / 1_000_000_000_000_000)) \(sentAt)"
            + (root.map { " \($0)" } ?? "") + "\n"
    }

    /// The command a beat's line names, if it names one.
    static func root(of line: String) -> pid_t? {
        let fields = line.split(separator: " ")
        return fields.count > 2 ? pid_t(fields[2]).flatMap { $0 > 0 ? $0 : nil } : nil
    }

    /// The wait a beat's line allows at `now` (``monotonicNanoseconds()``): its milliseconds less
    /// the time since it was sent, at most `window`; the whole window for a line that holds no
    /// number (the bare newline beats of an earlier coord).
    static func allowance(of line: String, window: Duration, now: Int64) -> Duration {
        let fields = line.split(separator: " ")
        guard let first = fields.first, let milliseconds = Int64(first) else { return window }
        var allowance = min(window, .milliseconds(max(0, milliseconds)))
        if fields.count > 1, let sentAt = Int64(fields[1]), now > sentAt {
            allowance -= .nanoseconds(now - sentAt)
        }
        return max(.zero, allowance)
    }

    /// CLOCK_MONOTONIC in nanoseconds: the clock the worker and its watchdogs, on one host, share.
    static func monotonicNanoseconds() -> Int64 {
        var now = timespec()
        clock_gettime(CLOCK_MONOTONIC, &now)
        return Int64(now.tv_sec) * 1_000_000_000 + Int64(now.tv_nsec)
    }
}
