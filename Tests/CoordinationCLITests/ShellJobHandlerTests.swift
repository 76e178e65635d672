@testable import CoordinationCLI
@testable import CoordinationScheduler
import Coordination
import CoordinationTestSupport
import Foundation
import Testing

/// The shell handler on its own, with real processes: what it reports of a command's end, and
/// how a stopped command ends.
@Suite("the shell handler runs commands and stops their whole process group")
struct ShellJobHandlerTests {
    static func context(_ command: String) -> RunContext {
        RunContext(
            job: "j", run: "r", item: 0, itemCount: 1, itemParameter: nil, payload: Data(command.utf8), attempt: 1,
            scheduledAt: Date(), fencingToken: 1, worker: "w", deadline: nil, reportProgress: { _ in })
    }

    /// A FIFO in a fresh directory (removed by `cleanup`): commands write their process ids to it.
    static func fifo() throws -> (path: String, cleanup: @Sendable () -> Void) {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("coord-shell-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        let path = directory.appendingPathComponent("pids").path
        #expect(mkfifo(path, 0o600) == 0)
        return (path, { try? FileManager.default.removeItem(at: directory) })
    }

    /// Stopped by cancellation (what a timeout, a cancel request, a hand-back or a lost session
    /// do), a command whose processes ignore SIGTERM must be gone, children included, by the time
    /// the handler returns: the run ends (and may be claimed again) right after. The first
    /// command ignores SIGTERM itself (its supervisor used to die of it, and the SIGKILL after the
    /// grace never came); the second honours it but leaves a child that ignores it.
    @Test(
        "a stopped command that ignores SIGTERM is killed, children included, before the handler returns",
        arguments: [
            #"trap '' TERM; echo started; echo oops >&2; sleep 60 & echo "$$ $!" > "$FIFO"; wait"#,
            // The child tells both ids itself, once it ignores SIGTERM (told by its parent, it
            // could be stopped before its trap, and the test passed without the case it is for):
            // `$$` is still the command's shell, and a command substitution's `exec`ed process
            // has the subshell as its parent.
            #"echo started; echo oops >&2; (trap '' TERM; echo "$$ $(exec sh -c 'echo $PPID')" > "$FIFO"; exec sleep 60) & wait"#,
        ])
    func stoppedCommandIsKilledWithItsChildren(command: String) async throws {
        let (fifo, cleanup) = try Self.fifo()
        defer { cleanup() }
        let handler = Task { try await ShellJobHandler.run(Self.context("FIFO='\(fifo)'; " + command), grace: .milliseconds(300)) }
        let pids = try await withDeadline("the command to start") { try await readLine(fromFIFO: fifo) }
            .split(separator: " ").compactMap { pid_t($0) }
        #expect(pids.count == 2, "\(pids)")
        let group = try #require(Self.processGroup(of: pids[0]))
        #expect(pids.allSatisfy { !SchedulerProcessTests.hasEnded($0) })
        handler.cancel()
        let result = await handler.result
        // At once, without waiting: the handler's return is the promise.
        let running = Self.runningProcesses(inGroup: group)
        #expect(running.isEmpty, "still running in the command's group after the handler returned: \(running)")
        for pid in running { kill(pid, SIGKILL) }
        // What the command wrote before it was stopped stays, for the history.
        #expect(throws: RunFailure.self) { try result.get() }
        if case .failure(let failure as RunFailure) = result {
            #expect(failure.stdoutTail == "started\n")
            #expect(failure.stderrTail == "oops\n")
        }
    }

    /// "exited with status 127" was all `coord runs` showed of a misspelt command: the name and
    /// the shell's words were only in the stderr tail, which its table does not show.
    @Test(
        "a command that does not exist, or cannot be executed, fails with a message naming it",
        arguments: [
            ("no-such-command-xyz --flag", "command exited with status 127, the shell's status for a command not found: /bin/sh: 1: no-such-command-xyz: not found"),
            ("/dev/null", "command exited with status 126, the shell's status for a command found but not executable: /bin/sh: 1: /dev/null: Permission denied"),
            ("exit 3", "command exited with status 3"),
        ])
    func missingCommand(command: String, message: String) async throws {
        do {
            _ = try await ShellJobHandler.run(Self.context(command), grace: .milliseconds(300))
            Issue.record("\(command) succeeded")
        } catch let failure as RunFailure {
            #expect(failure.message == message)
        }
    }

    /// A command that ends on SIGTERM ends the stop at once: the grace is a most, not a wait.
    @Test("a stopped command that honours SIGTERM is not held for the grace period")
    func stoppedCommandEndsAtOnce() async throws {
        let (fifo, cleanup) = try Self.fifo()
        defer { cleanup() }
        // "started" before the word to the test: told first, the test stopped a command that had
        // not printed yet, and its output was empty (70 of 322 runs beside a busy CPU).
        let command = #"echo started; echo "$$" > "\#(fifo)"; exec sleep 60"#
        let handler = Task { try await ShellJobHandler.run(Self.context(command), grace: .seconds(3600)) }
        let pid = try #require(pid_t(try await withDeadline("the command to start") { try await readLine(fromFIFO: fifo) }))
        let group = try #require(Self.processGroup(of: pid))
        handler.cancel()
        // The hour of grace would fail this.
        let result = try await withDeadline("the stopped handler to return", limit: .seconds(60)) { await handler.result }
        #expect(Self.runningProcesses(inGroup: group).isEmpty)
        #expect(throws: RunFailure.self) { try result.get() }
        if case .failure(let failure as RunFailure) = result { #expect(failure.stdoutTail == "started\n") }
    }

    /// A command's own end, by status or signal, is the attempt's (the supervisor ignores
    /// SIGTERM while its command runs; a command's own SIGTERM still ends the attempt).
    @Test(
        "a command's own exit status or signal is the attempt's",
        arguments: [
            ("echo out; exit 3", "command exited with status 3"),
            ("kill -TERM $$", "command was killed by signal 15"),
            ("kill -KILL $$", "command was killed by signal 9"),
        ])
    func exitIsPassedOn(command: String, message: String) async throws {
        let failure = await #expect(throws: RunFailure.self) { try await ShellJobHandler.run(Self.context(command), grace: .seconds(3)) }
        #expect(failure?.message == message)
        #expect(failure?.stdoutTail == (command.hasPrefix("echo") ? "out\n" : nil))
        // Only what the command wrote: not the supervising shell's report of the signal.
        #expect(failure?.stderrTail == nil)
        let output = try await ShellJobHandler.run(Self.context("echo fine"), grace: .seconds(3))
        #expect(output == RunOutput(stdoutTail: "fine\n"))
    }

    /// Megabytes on both streams (stderr first, so a handler reading one stream at a time would
    /// block on the other's full pipe) end the run with the last 4 KB of each, at most: a tail
    /// starts at the first whole line kept, after a "…" line saying it was cut.
    @Test("a command's huge stdout and stderr end the run with bounded tails")
    func hugeOutputKeepsBoundedTails() async throws {
        let command = #"head -c 3000000 /dev/zero | tr '\0' e >&2; head -c 3000000 /dev/zero | tr '\0' o; echo; echo end"#
        let output = try await withDeadline("the loud command to end", limit: .seconds(60)) {
            try await ShellJobHandler.run(Self.context(command), grace: .seconds(3))
        }
        // The partial line of o's is dropped: the kept part holds the start of the next one.
        #expect(output.stdoutTail == "…\nend\n")
        #expect(output.stderrTail == "…" + String(repeating: "e", count: ShellJobHandler.tailLimit - 3))
    }

    /// Many short lines: the tail holds the last of them whole, the first kept one included.
    @Test("a command's long output of lines ends the run with a tail of whole lines")
    func longOutputKeepsWholeLines() async throws {
        let output = try await withDeadline("seq to end", limit: .seconds(60)) {
            try await ShellJobHandler.run(Self.context("seq 1 100000"), grace: .seconds(3))
        }
        let out = try #require(output.stdoutTail)
        #expect(out.utf8.count <= ShellJobHandler.tailLimit && out.utf8.count > ShellJobHandler.tailLimit - 8, "\(out.utf8.count) bytes")
        let lines = out.split(separator: "\n", omittingEmptySubsequences: false)
        #expect(lines.first == "…" && lines.last == "", "\(out.prefix(20).debugDescription)")
        let numbers = lines.dropFirst().dropLast().map { Int($0) }
        #expect(numbers.last == 100000)
        #expect(numbers.first.flatMap { $0 } == 100000 - numbers.count + 1, "\(out.prefix(20).debugDescription)")
    }

    /// A command that starts something in the background and exits ends its run then, with its
    /// status: what it started is not waited for, nor stopped (it holds neither the run's claim nor
    /// a watchdog, as README says), even while it keeps the output pipes open.
    @Test("a command that leaves a background process behind ends its run at its own exit")
    func backgroundProcessOutlivesTheRun() async throws {
        let (fifo, cleanup) = try Self.fifo()
        defer { cleanup() }
        let command = #"sleep 60 & echo "$!" > "\#(fifo)"; echo done"#
        let handler = Task { try await ShellJobHandler.run(Self.context(command), grace: .milliseconds(300)) }
        let child = try #require(pid_t(try await withDeadline("the command to start") { try await readLine(fromFIFO: fifo) }))
        defer { kill(child, SIGKILL) }
        // Well within the background sleep's minute.
        let output = try await withDeadline("the handler to return at the command's exit", limit: .seconds(30)) { try await handler.value }
        #expect(output == RunOutput(stdoutTail: "done\n"))
        #expect(!SchedulerProcessTests.hasEnded(child), "left running: the run is over, the process is on its own")
    }

    @Test("the SIGKILL after a stop's SIGTERM comes within half the self-fencing margin, at most 3 s after it")
    func graceFitsTheSelfFencingMargin() {
        #expect(ShellJobHandler.grace(sessionTTL: .seconds(10)) == .seconds(1))
        #expect(ShellJobHandler.grace(sessionTTL: .seconds(60)) == .seconds(3))
        for seconds in [1, 2, 5, 10, 29, 30, 31, 600] {
            let ttl = Duration.seconds(seconds)
            #expect(ShellJobHandler.grace(sessionTTL: ttl) * 2 <= Worker.selfFencingMargin(sessionTTL: ttl), "TTL \(seconds) s")
        }
    }

    /// Each beat allows the whole window while the claim's session is fine; out of contact
    /// (noticed or not), only until a beat before the session may end, and nothing once that is
    /// past. A session granted a shorter TTL than the worker started with shortens the window and
    /// the interval.
    @Test("out of contact, each beat allows the command only until a beat before its session may end")
    func beatsAllowOnlyUntilTheSessionsEnd() {
        let lifeline = ShellJobHandler.Lifeline(executable: "/coord", sessionTTL: .seconds(10))  // window 5 s, beat 1 s
        let now = ContinuousClock.now
        func beat(_ state: SessionState, lastContact: Duration, ttl: Duration = .seconds(10)) -> ShellJobHandler.Lifeline.Beat {
            lifeline.beat(SessionEvent(state: state, sessionID: "s", ttl: ttl, lastContact: now - lastContact), now: now)
        }
        func allowance(_ state: SessionState, lastContact: Duration) -> Duration { beat(state, lastContact: lastContact).allowance }
        #expect(beat(.connected, lastContact: .seconds(3)) == .init(allowance: .seconds(5), interval: .seconds(1)))
        #expect(allowance(.reconnected, lastContact: .seconds(3)) == .seconds(5))
        // Connected, but no contact confirmed for a while: the client has not noticed yet, and
        // the session may still end a TTL after the last contact.
        #expect(allowance(.connected, lastContact: .seconds(6)) == .seconds(3), "safe for 4 s more, less a beat")
        #expect(allowance(.reconnected, lastContact: .seconds(8)) == .seconds(1))
        #expect(allowance(.connected, lastContact: .seconds(60)) == .zero)
        #expect(allowance(.suspended, lastContact: .seconds(2)) == .seconds(5), "safe for 8 s more: the whole window")
        #expect(allowance(.suspended, lastContact: .seconds(6)) == .seconds(3), "safe for 4 s more, less a beat")
        #expect(allowance(.suspended, lastContact: .seconds(9.5)) == .zero)
        #expect(allowance(.suspended, lastContact: .seconds(30)) == .zero)
        #expect(allowance(.expired, lastContact: .zero) == .zero)
        #expect(allowance(.closed, lastContact: .zero) == .zero)
        // Granted 4 s instead of 10: a 2 s window, a beat every 0.4 s; granted 0.1 s, still five beats a window.
        #expect(beat(.connected, lastContact: .zero, ttl: .milliseconds(100)) == .init(allowance: .milliseconds(50), interval: .milliseconds(10)))
        #expect(beat(.connected, lastContact: .zero, ttl: .seconds(4)) == .init(allowance: .seconds(2), interval: .milliseconds(400)))
        #expect(beat(.suspended, lastContact: .seconds(3), ttl: .seconds(4)) == .init(allowance: .milliseconds(600), interval: .milliseconds(400)))
        // Granted more: the window the watchdog was started with stays the bound.
        #expect(beat(.connected, lastContact: .zero, ttl: .seconds(60)) == .init(allowance: .seconds(5), interval: .seconds(1)))
    }

    /// The beat's line and the watchdog's reading of it agree; a beat read late allows only what
    /// is left of it; and the watchdog never waits past its window, whatever a line says.
    @Test("a beat's line tells the watchdog its allowance from when it was sent, at most the window")
    func beatLinesRoundTrip() {
        let window = Duration.seconds(5)
        let sent: Int64 = 1_000_000_000
        #expect(LifelineCommand.beatLine(allowing: .milliseconds(1_500), sentAt: sent) == "1500 1000000000\n")
        #expect(LifelineCommand.allowance(of: "1500 1000000000", window: window, now: sent) == .milliseconds(1_500))
        #expect(LifelineCommand.allowance(of: "1500 1000000000", window: window, now: sent + 400_000_000) == .milliseconds(1_100), "read 0.4 s late")
        #expect(LifelineCommand.allowance(of: "1500 1000000000", window: window, now: sent + 2_000_000_000) == .zero)
        #expect(LifelineCommand.allowance(of: "0 1000000000", window: window, now: sent) == .zero)
        #expect(LifelineCommand.allowance(of: "99999999 1000000000", window: window, now: sent) == window)
        #expect(LifelineCommand.allowance(of: "1500", window: window, now: sent) == .milliseconds(1_500), "no send time: as it says")
        #expect(LifelineCommand.allowance(of: "", window: window, now: sent) == window, "a bare newline: the whole window")
        #expect(LifelineCommand.beatLine(allowing: .seconds(-1), sentAt: sent) == "0 1000000000\n")
    }

    /// With the real watchdog (`coord __lifeline`): a command whose claim's session is past its
    /// last safe instant is killed at the first beat, while the same kind of command under a
    /// session in contact runs past the window to its end. Before beats carried an allowance, a
    /// worker cut off and then stopped late in its safe window left its command running past it;
    /// before a connected session's last contact counted, so did one stopped just before its
    /// client noticed the loss (here: still `connected`, no contact for a TTL).
    @Test("the watchdog kills a command at once when its worker's session is past its last safe instant")
    func watchdogKillsACommandWhoseSessionIsPastItsSafeEnd() async throws {
        let lifeline = ShellJobHandler.Lifeline(executable: CoordProcess.binary.path, sessionTTL: .seconds(4))  // window 2 s
        func context(_ command: String, _ state: SessionState, inContact: Bool) -> RunContext {
            let stale = ContinuousClock.now - .seconds(4)
            return RunContext(
                job: "j", run: "r", item: 0, itemCount: 1, itemParameter: nil, payload: Data(command.utf8), attempt: 1,
                scheduledAt: Date(), fencingToken: 1, worker: "w", deadline: nil, reportProgress: { _ in },
                claimSession: { SessionEvent(state: state, sessionID: "s", ttl: .seconds(4), lastContact: inContact ? .now : stale) })
        }
        let lived = try await ShellJobHandler.run(context("sleep 3; echo done", .connected, inContact: true), grace: .seconds(1), lifeline: lifeline)
        #expect(lived.stdoutTail == "done\n")
        for state in [SessionState.suspended, .connected] {
            let killed = await #expect(throws: RunFailure.self, "\(state)") {
                try await ShellJobHandler.run(context("sleep 20; echo done", state, inContact: false), grace: .seconds(1), lifeline: lifeline)
            }
            #expect(killed?.message == "command was killed by signal 9", "\(state): \(String(describing: killed))")
            #expect(killed?.stdoutTail == nil)
        }
    }

    /// The process group of `pid`, from /proc.
    static func processGroup(of pid: pid_t) -> pid_t? {
        stat(of: "\(pid)").map(\.group)
    }

    /// The processes of group `group` that run (are not zombies), from /proc.
    static func runningProcesses(inGroup group: pid_t) -> [pid_t] {
        let entries = (try? FileManager.default.contentsOfDirectory(atPath: "/proc")) ?? []
        return entries.compactMap { entry in
            guard let pid = pid_t(entry), let stat = stat(of: entry), stat.group == group, stat.state != "Z" else { return nil }
            return pid
        }
    }

    /// The state and process group /proc/`entry`/stat gives ("pid (name) state ppid pgrp …").
    static func stat(of entry: String) -> (state: Substring, group: pid_t)? {
        guard let text = try? String(contentsOfFile: "/proc/\(entry)/stat", encoding: .utf8),
            let close = text.lastIndex(of: ")")
        else { return nil }
        let fields = text[text.index(after: close)...].split(separator: " ")
        guard fields.count > 2, let group = pid_t(fields[2]) else { return nil }
        return (fields[0], group)
    }
}
