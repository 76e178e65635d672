import Coordination
import Foundation
import CoordinationTestSupport
import Testing
@testable import CoordinationCLI

/// `coord lock`, `coord elect` and `coord members` on the embedded store (one process); the
/// cross-process acceptance runs against real servers in the backend-specific suites.
@Suite(.serverLoadLimit) struct HeldCommandTests {
    @Test("coord lock runs the command with a fencing token and passes its status through")
    func lockPassesStatusThrough() async throws {
        let coord = try CoordProcess()
        defer { coord.removeDirectory() }
        let result = try await coord.run(["--store", "memory://", "lock", "deploy", "--", "sh", "-c", "echo token=$COORD_FENCING_TOKEN; exit 3"])
        #expect(result.status == 3)
        #expect(result.stdoutText.hasPrefix("token="))
        #expect(Int(result.stdoutText.dropFirst(6).trimmingCharacters(in: .whitespacesAndNewlines)) != nil)
        #expect(result.stderr.isEmpty, "memory:// chosen: no note")
    }

    /// With no store configured, `coord lock deploy -- ./deploy.sh` ran on memory:// and held a
    /// lock that kept no other process out, without a word.
    @Test("with no store configured, lock, elect and members --join say that no other process shares what they hold", arguments: [
        (["lock", "deploy"], "the lock keeps no other process out"),
        (["elect", "primary"], "no other candidate takes part in the election"),
        (["members", "web", "--join", "w1"], "no other process sees the member"),
    ])
    func defaultMemoryStoreIsNoted(arguments: [String], what: String) async throws {
        let coord = try CoordProcess()
        defer { coord.removeDirectory() }
        let result = try await coord.run(arguments + ["--", "sh", "-c", "echo ran; exit 3"])
        #expect(result.status == 3, "\(result.stderr)")
        #expect(result.stdoutText == "ran\n")
        #expect(result.stderrLines == [
            "coord: note: no store is configured, so this runs on memory://, which lives in this coord process only: \(what); "
                + "give --store zookeeper://… or etcd://… (or COORD_STORE, or 'store' in a config file)",
        ])
    }

    /// With no store configured, `coord kv watch /config` printed an empty snapshot and then
    /// nothing, ever, without a word: no other process can change this coord's memory://.
    @Test("with no store configured, kv watch and members --watch say that no other process changes what they watch", arguments: [
        (["kv", "watch", "/config"], "no other process changes what it watches"),
        (["members", "web", "--watch"], "no other process changes what it watches"),
    ])
    func defaultMemoryStoreIsNotedByWatches(arguments: [String], what: String) async throws {
        let coord = try CoordProcess()
        defer { coord.removeDirectory() }
        let result = try await coord.run(arguments, interruptAfterFirstLine: true)
        #expect(result.status == 0, "\(result.stderr)")
        #expect(result.stderrLines == [
            "coord: note: no store is configured, so this runs on memory://, which lives in this coord process only: \(what); "
                + "give --store zookeeper://… or etcd://… (or COORD_STORE, or 'store' in a config file)",
        ])
        let chosen = try await coord.run(["--store", "memory://"] + arguments, interruptAfterFirstLine: true)
        #expect(chosen.status == 0 && chosen.stderr.isEmpty, "memory:// chosen: no note; \(chosen.stderr)")
    }

    @Test("coord elect runs the command once elected, with a leader token")
    func electRunsTheCommand() async throws {
        let coord = try CoordProcess()
        defer { coord.removeDirectory() }
        let result = try await coord.run(["elect", "/apps/primary", "--identity", "me", "--", "sh", "-c", "echo $COORD_LEADER_TOKEN"])
        #expect(result.status == 0)
        #expect(Int(result.stdoutText.trimmingCharacters(in: .whitespacesAndNewlines)) != nil)
    }

    // A command that says "ready" once it runs, then works until a signal; `trap` decides what the
    // signal does to it.
    static func worker(_ trap: String) -> [String] {
        ["sh", "-c", "\(trap); echo ready; while true; do sleep 0.1; done"]
    }

    @Test(
        "a SIGTERM, SIGINT or SIGHUP to coord goes on to the command, and coord exits with the command's status",
        arguments: [
            ("lock", SIGTERM, Int32(0)), ("elect", SIGTERM, 3), ("lock", SIGINT, 0), ("elect", SIGINT, 5),
            // SIGHUP ended coord at once (129), and the watchdog SIGKILLed the command past its trap.
            ("lock", SIGHUP, 4), ("elect", SIGHUP, 0),
        ])
    func signalGoesToTheCommand(subcommand: String, signal: Int32, exit: Int32) async throws {
        let command = Self.worker("trap 'echo cleaned up; exit \(exit)' TERM INT HUP")
        let coord = try await LineProcess(
            CoordProcess.binary.path, ["--store", "memory://", subcommand, "/held/\(subcommand)", "--"] + command)
        defer { coord.stop() }
        #expect(try await coord.nextLine(within: .seconds(20)) == "ready")
        coord.kill(signal)
        // The command's own trap ran: the signal reached it, and its status is coord's.
        #expect(try await coord.nextLine(within: .seconds(20)) == "cleaned up")
        #expect(try await coord.exitStatus(within: .seconds(20)) == exit)
    }

    /// A SIGHUP (a closed terminal or ssh session) killed coord outright: the lock stayed held
    /// until its session expired, so the next holder waited a TTL.
    @Test("a SIGHUP to coord lock releases the lock at once, once the command has exited", arguments: SchedulerProcessTests.servers)
    func hangUpReleasesTheLock(backend: TestBackend) async throws {
        let handles = try TestHandles(backend)
        try await TestHandles.closing(handles) {
            // A long TTL: a lock left to its session would still be held when the next one tries.
            let url = try #require(backend.url(handles.namespace, ttl: .seconds(60)))
            let holder = try await LineProcess(CoordProcess.binary.path, ["--store", url, "lock", "hup", "--"] + Self.worker("trap 'exit 0' HUP"))
            defer { holder.stop() }
            #expect(try await holder.nextLine(within: .seconds(20)) == "ready")
            holder.kill(SIGHUP)
            #expect(try await holder.exitStatus(within: .seconds(20)) == 0)
            let coord = try CoordProcess()
            defer { coord.removeDirectory() }
            let next = try await coord.run(["--store", url, "lock", "hup", "--timeout", "0", "--", "echo", "next"])
            #expect(next.status == 0 && next.stdoutText == "next\n", "\(next.stderr)")
        }
    }

    /// Under `nohup`, catching SIGHUP to pass it on would have armed the kill of a command that
    /// ignores it: a signal ignored when coord starts stays ignored. Read from the kernel's own
    /// table of coord's signals (the command's parent), while the command runs.
    @Test("coord lock catches SIGHUP to pass it on, but leaves it ignored when it was (nohup)", arguments: [false, true])
    func hangUpIgnoredStaysIgnored(ignored: Bool) async throws {
        let trap = ignored ? "trap '' HUP; " : ""
        let coord = try await LineProcess(
            "/bin/sh",
            ["-c", trap + "exec \"$0\" \"$@\"", CoordProcess.binary.path, "--store", "memory://", "lock", "nohup", "--",
             "sh", "-c", "grep -E '^Sig(Ign|Cgt):' /proc/$PPID/status"])
        defer { coord.stop() }
        var masks: [String: UInt64] = [:]
        for _ in 0..<2 {
            let fields = try await coord.nextLine(within: .seconds(20)).split(separator: "\t")
            masks[String(fields[0])] = UInt64(fields[1], radix: 16)
        }
        let hangUp: UInt64 = 1 << (UInt64(SIGHUP) - 1)
        #expect((try #require(masks["SigCgt:"]) & hangUp != 0) == !ignored, "\(masks)")
        #expect((try #require(masks["SigIgn:"]) & hangUp != 0) == ignored, "\(masks)")
        #expect(try await coord.exitStatus(within: .seconds(20)) == 0)
    }

    @Test(
        "a command that a passed-on signal ends gives 128 + that signal, as in a shell: 130 only for SIGINT",
        arguments: [("lock", SIGTERM, Int32(143)), ("elect", SIGTERM, 143), ("lock", SIGINT, 130), ("elect", SIGINT, 130)])
    func signalEndsTheCommand(subcommand: String, signal: Int32, status: Int32) async throws {
        let coord = try await LineProcess(
            CoordProcess.binary.path,
            ["--store", "memory://", subcommand, "/held/\(subcommand)", "--", "sh", "-c", "echo ready; exec sleep 600"])
        defer { coord.stop() }
        #expect(try await coord.nextLine(within: .seconds(20)) == "ready")
        coord.kill(signal)
        #expect(try await coord.exitStatus(within: .seconds(20)) == status)
    }

    @Test("a command that ignores the passed-on SIGTERM is killed 5 s later: 137")
    func ignoredSignal() async throws {
        let coord = try await LineProcess(
            CoordProcess.binary.path, ["--store", "memory://", "lock", "stubborn", "--"] + Self.worker("trap 'echo ignoring' TERM"))
        defer { coord.stop() }
        #expect(try await coord.nextLine(within: .seconds(20)) == "ready")
        let sent = ContinuousClock.now
        coord.kill(SIGTERM)
        #expect(try await coord.nextLine(within: .seconds(20)) == "ignoring")
        #expect(try await coord.exitStatus(within: .seconds(30)) == 128 + SIGKILL)
        let waited = sent.duration(to: .now)
        #expect(waited >= .milliseconds(4900), "killed after \(waited), before the 5 s grace")
    }

    @Test(
        "what the command leaves running is stopped before coord exits: after a setsid, and SIGKILLed if it ignores SIGTERM",
        arguments: ["lock", "elect"])
    func leftoversAreStopped(subcommand: String) async throws {
        // Two processes outlive the command: one in a session of its own that ignores SIGTERM,
        // one plain. Each says its process id; the command then exits 0.
        let script = #"""
            setsid sh -c "trap '' TERM; echo left \$\$; exec sleep 3601" &
            sh -c 'echo left $$; exec sleep 3602' &
            while [ "$(grep -c . left 2>/dev/null)" != 2 ]; do sleep 0.05; done
            """#
        let folder = FileManager.default.temporaryDirectory.appendingPathComponent("coord-leftovers-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: folder) }
        let coord = try await LineProcess(
            CoordProcess.binary.path,
            ["--store", "memory://", subcommand, "/held/\(subcommand)", "--", "sh", "-c", "cd \(folder.path) && { \(script); } > left 2>&1; cat left"])
        defer { coord.stop() }
        var pids: [Int32] = []
        for _ in 0..<2 {
            let line = try await coord.nextLine(within: .seconds(20))
            pids.append(try #require(Int32(line.dropFirst("left ".count)), "\(line)"))
        }
        #expect(try await coord.exitStatus(within: .seconds(30)) == 0)
        for pid in pids { #expect(Foundation.kill(pid, 0) != 0, "process \(pid), left by the command, still exists") }
    }

    @Test("a lock that cannot be reached with --timeout stays 9: only a busy lock is 12")
    func unreachableWithTimeout() async throws {
        let coord = try CoordProcess()
        defer { coord.removeDirectory() }
        let result = try await coord.run(["--store", "etcd://127.0.0.1:1", "lock", "x", "--timeout", "2s", "--", "true"])
        #expect(result.status == 9, "\(result.stderr)")
        #expect(result.stderrLines.count == 1, "\(result.stderr)")
    }

    @Test("coord members of an empty group prints nothing")
    func emptyGroup() async throws {
        let coord = try CoordProcess()
        defer { coord.removeDirectory() }
        let result = try await coord.run(["members", "workers", "--json"])
        #expect(result.status == 0)
        #expect(result.stdout.isEmpty)
    }

    @Test("mistakes are one line naming the problem", arguments: [
        (["lock", "x"], Int32(64), "give the command to run after --"),
        (["elect", "x"], 64, "give the command to run after --"),
        // Found on the command line, before any store is opened: a store out of reach does not matter.
        (["--store", "etcd://127.0.0.1:1", "lock", "x"], 64, "give the command to run after --"),
        (["--store", "etcd://127.0.0.1:1", "elect", "x"], 64, "give the command to run after --"),
        (["lock", "x", "--timeout", "soon", "--", "true"], 64, "--timeout soon is not a duration; write one number and one unit"),
        // Numbers Swift reads but nobody writes for a time; 0x0 and 0e0 are not the --timeout 0 try either.
        (["lock", "x", "--timeout", "0x10", "--", "true"], 64, "--timeout 0x10 is not a duration; write one number and one unit (ms, s, m, h or d; none is seconds), like 500ms, 30s, 90m or 1d (the number in digits, with a point for a fraction: 1.5s)"),
        (["lock", "x", "--timeout", "0e0", "--", "true"], 64, "--timeout 0e0 is not a duration"),
        (["lock", "x", "--timeout", "1e3ms", "--", "true"], 64, "--timeout 1e3ms is not a duration"),
        // -1 was read as an option, and the hint to write --timeout=-1 led to a second refusal.
        (["lock", "x", "--timeout", "-1", "--", "true"], 64, "coord: --timeout -1 is negative: give 0 (only a free lock) or a longer wait for the holders ahead, like 30s"),
        (["--store", "etcd://127.0.0.1:1", "lock", "x", "--timeout=-5s", "--", "true"], 64, "coord: --timeout -5s is negative: give 0 (only a free lock)"),
        (["lock", "../x", "--", "true"], 6, "invalid key"),
        (["members", "g", "--metadata", "a"], 64, "--metadata goes with --join ID"),
        // A member runs a server, not the deploy script a lock's example gives.
        (["members", "g", "--join", "m1"], 64, "give the command to run after --, for example: -- ./serve"),
        (["members", "g", "--join", "a/b", "--", "true"], 64, "--join 'a/b': a member's id is one key segment"),
        // Every id that is no key segment is the option's bad value, found before the store is opened.
        (["--store", "etcd://127.0.0.1:1", "members", "g", "--join", "..", "--", "true"], 64, "--join '..': a member's id is one key segment: segment '..' is not allowed"),
        (["--store", "etcd://127.0.0.1:1", "members", "g", "--join", "", "--", "true"], 64, "--join '': a member's id is one key segment: it is empty"),
        (["--store", "etcd://127.0.0.1:1", "members", "g", "--join", "a\tb", "--", "true"], 64, "--join 'a\\u{9}b': a member's id is one key segment: character U+0009 is not allowed"),
        (["--store", "etcd://127.0.0.1:1", "members", "g", "--join", String(repeating: "m", count: 1100), "--", "true"], 64, "(1110 bytes): it is 1110 bytes long; the limit is 1024 bytes"),
        (["members", "g", "--", "true"], 64, "a command runs only with --join ID"),
        (["lock", "sub/name", "--", "true"], 6, "invalid name 'sub/name': a plain name has no '/'; for a key beneath /locks write /locks/sub/name"),
        (["lock", "e1", "echo", "hi"], 64, "the command that coord lock runs goes after --: coord lock e1 -- echo hi"),
        (["elect", "--identity", "me", "e1", "echo", "hi"], 64, "the command that coord elect runs goes after --: coord elect --identity me e1 -- echo hi"),
        // Not Key's "empty segment ('//')": nobody typed a slash.
        (["elect", "", "--", "true"], 6, "coord: invalid name '': it is empty; give a plain name (deploy, the key /elections/deploy) or an absolute key"),
        (["members", ""], 6, "coord: invalid name '': it is empty; give a plain name (deploy, the key /groups/deploy) or an absolute key"),
        // The root's children are every other key in the store, and leaving tried to remove the root.
        (["lock", "/", "--", "true"], 64, "coord: '/' is the root key, which cannot be a lock: give a plain name (deploy, the key /locks/deploy) or a key below the root (/myapp/locks/deploy)"),
        (["--store", "etcd://127.0.0.1:1", "lock", "/", "--", "true"], 64, "coord: '/' is the root key, which cannot be a lock"),
        (["elect", "/", "--", "true"], 64, "coord: '/' is the root key, which cannot be an election: give a plain name (deploy, the key /elections/deploy)"),
        (["members", "/"], 64, "coord: '/' is the root key, which cannot be a group: give a plain name (deploy, the key /groups/deploy)"),
        (["members", "/", "--join", "m1", "--", "true"], 64, "coord: '/' is the root key, which cannot be a group"),
        // An identity nobody could tell from another's, not even the default's host and process id.
        (["elect", "--identity", "", "e1", "--", "true"], 64, "coord: --identity '' is empty: give the name others see for this candidate, or leave --identity out for host name and process id"),
        (["--store", "etcd://127.0.0.1:1", "elect", "--identity", " ", "e1", "--", "true"], 64, "coord: --identity ' ' is blank"),
        // A command that never starts gets a shell's status: 127 not found, 126 not runnable.
        (["lock", "x", "--", "/nonexistent/cmd"], 127, "coord: cannot run /nonexistent/cmd: no such file"),
        (["lock", "x", "--", "no-such-command-anywhere"], 127, "no-such-command-anywhere: no such command on PATH"),
        (["elect", "/e", "--", "/"], 126, "cannot run /: it is a directory"),
    ])
    func mistakes(arguments: [String], status: Int32, message: String) async throws {
        try await Self.expectMistake(arguments, status: status, message: message)
    }

    /// Until what it detaches (reparented to coord, which is a subreaper, and with coord gone to
    /// init) was found by the mark in its environment, a double fork outlived the watchdog.
    /// `members --join` has a watchdog of its own kind (it only catches a killed or frozen coord:
    /// a member joins again after an expiry), which no test had killed coord under.
    @Test(
        "a coord lock, elect or members --join killed with SIGKILL takes its command with it, and what the command detached (a double fork, a setsid)",
        arguments: [["lock", "work"], ["elect", "work"], ["members", "work", "--join", "m1"]])
    func killedHolderTakesItsCommand(subcommand: [String]) async throws {
        let holder = try await LineProcess(
            CoordProcess.binary.path,
            ["--session-ttl", "2s"] + subcommand + ["--", "sh", "-c",
             "(sleep 3601 & echo detached $!); (setsid sleep 3602 & echo setsid $!); echo holding $$; exec sleep 3600"])
        defer { holder.stop() }
        var pids: [Int32] = []
        for _ in 0..<3 { pids += try await holder.nextLine(within: .seconds(20)).split(separator: " ").compactMap { Int32($0) } }
        #expect(pids.count == 3)
        defer { for pid in pids { Foundation.kill(pid, SIGKILL) } }
        holder.kill(SIGKILL)
        let gone = try await Self.untilNoneRuns(pids) != nil
        #expect(gone, "still running: \(pids.filter { ProcessTable.entry(of: $0)?.runs == true })")
    }

    /// The kill's timing too: within half a session TTL of the freeze (README), so before the
    /// session can expire and the next holder start. The test waited 20 s for it, so a window of
    /// a whole TTL or more passed.
    @Test("a coord lock frozen past its watchdog's window finds its command killed within half a TTL, and when it wakes exits 11 saying the lock was lost")
    func frozenHolderIsToldOfTheKill() async throws {
        let ttl = Duration.seconds(4)
        // stderr into the lines, through a shell that execs coord: the signals reach coord itself.
        let holder = try await LineProcess(
            "/bin/sh",
            ["-c", "exec \"$0\" \"$@\" 2>&1", CoordProcess.binary.path, "--store", "memory://", "--session-ttl", "4s", "lock", "frozen", "--",
             "sh", "-c", "echo holding $$; exec sleep 3600"])
        defer { holder.stop() }
        let command = try #require(Int32(try await holder.nextLine(within: .seconds(20)).dropFirst("holding ".count)))
        defer { Foundation.kill(command, SIGKILL) }  // had the watchdog missed it, it would hold the lines' pipe open
        let frozen = ContinuousClock.now
        holder.kill(SIGSTOP)
        let killed = try #require(try await Self.untilNoneRuns([command]), "the frozen holder's command was killed")
        // Half a TTL from the last beat, which came before the freeze; a quarter TTL for a loaded
        // machine's lag and the table's 50 ms reads (measured by hand: 1.96 to 2.02 s).
        let killedAfter = frozen.duration(to: killed)
        #expect(killedAfter < ttl * 3 / 4, "killed \(killedAfter) after the freeze, with a \(ttl) TTL")
        holder.kill(SIGCONT)
        let status = try await holder.exitStatus(within: .seconds(30))
        // 11 whichever coord learns first on waking: its session's end, or its command's.
        #expect(status == 11, "\(status)")
        let lines = try await withDeadline("the holder's last lines", limit: .seconds(20)) { await holder.remainingLines() }
        #expect(lines.contains { $0.hasPrefix("coord: lock /locks/frozen was lost (") && $0.hasSuffix("); the command was stopped") }, "\(lines)")
    }

    /// When the table first showed none of `pids` running, within 20 s; `nil` when they still
    /// ran then. None of them is ours to wait for: the table is read every 50 ms, on a thread of
    /// its own, so that the instant is the reading's, not that of a test task resuming late.
    static func untilNoneRuns(_ pids: [Int32]) async throws -> ContinuousClock.Instant? {
        await OwnThread.run {
            let deadline = ContinuousClock.now + .seconds(20)
            while ContinuousClock.now < deadline {
                if pids.allSatisfy({ ProcessTable.entry(of: $0)?.runs != true }) { return ContinuousClock.now }
                Thread.sleep(forTimeInterval: 0.05)
            }
            return nil
        }
    }

    /// A zero timeout was refused ("not positive"), and no timeout short enough to try once worked.
    @Test("coord lock --timeout 0 takes a free lock and runs the command")
    func zeroTimeoutTakesAFreeLock() async throws {
        let coord = try CoordProcess()
        defer { coord.removeDirectory() }
        let result = try await coord.run(["lock", "free", "--timeout", "0", "--", "sh", "-c", "echo ran"])
        #expect(result.status == 0, "\(result.stderr)")
        #expect(result.stdoutText == "ran\n")
    }

    /// An executable text file with no #! line: "the system refused to start it" said nothing of why.
    @Test("an executable that is neither a binary nor a #! script is named so, 126")
    func executableText() async throws {
        let coord = try CoordProcess()
        defer { coord.removeDirectory() }
        let file = try coord.write("echo hi\n", to: "plain")
        chmod(file, 0o755)
        try await Self.expectMistake(
            ["lock", "x", "--", file], status: 126, message: "cannot run \(file): it is neither a binary nor a script starting with #! (to run it as a shell script: sh \(file))")
    }

    static func expectMistake(_ arguments: [String], status: Int32, message: String) async throws {
        // memory:// chosen, so that the default's note does not come first (a --store given wins).
        let coord = try CoordProcess(environment: ["COORD_STORE": "memory://"])
        defer { coord.removeDirectory() }
        let result = try await coord.run(arguments)
        #expect(result.status == status)
        #expect(result.stderrLines.count == 1)
        #expect(result.stderr.contains(message), "\(result.stderr)")
    }
}
