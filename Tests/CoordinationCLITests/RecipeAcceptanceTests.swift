import Coordination
import CoordinationLocalServers
import CoordinationTestSupport
import Foundation
import Testing
@testable import CoordinationCLI

/// Issue 5's acceptance through real `coord` processes on real servers: each backend whose
/// server is reachable (skipped locally with the reason otherwise; a failure under CI).
@Suite(.serverLoadLimit) struct RecipeAcceptanceTests {
    static let servers = TestBackend.all.filter { $0.name != "memory" }  // memory:// lives inside one process

    @Test("three coord lock loops increment one file 20 times each: exactly 60", arguments: servers)
    func threeLockProcessesCountToSixty(backend: TestBackend) async throws {
        try backend.require()
        let namespace = TestBackend.freshNamespace("lock-acceptance")
        let url = try #require(backend.url(namespace, ttl: .seconds(4)))
        let folder = FileManager.default.temporaryDirectory.appendingPathComponent("coord-lock-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: folder) }
        try Data("0".utf8).write(to: folder.appendingPathComponent("counter"))

        // Read, pause, write: without mutual exclusion increments get lost.
        let increment = #"n=$(cat counter); sleep 0.01; echo $((n+1)) > counter"#
        let loop = #"for i in $(seq 20); do "$COORD" --store "$URL" lock counter -- sh -c "$STEP" || exit 1; done"#
        let statuses = try await withThrowingTaskGroup(of: Int32.self) { group in
            for _ in 0..<3 {
                group.addTask {
                    try await ShellProcess.run(
                        loop, in: folder,
                        environment: ["COORD": CoordProcess.binary.path, "URL": url, "STEP": increment])
                }
            }
            return try await group.reduce(into: []) { $0.append($1) }
        }
        #expect(statuses == [0, 0, 0])
        let final = try String(contentsOf: folder.appendingPathComponent("counter"), encoding: .utf8)
        #expect(final.trimmingCharacters(in: .whitespacesAndNewlines) == "60")
        try await cleanUp(backend, namespace)
    }

    // The issue's figure (at most TTL + 500 ms) is measured on a quiet machine and printed here;
    // beside the whole parallel suite on two cores (three-JVM ensembles included) process start-up
    // and keep-alives slow down, so the assertion is that failover follows from the session's
    // expiry rather than from anything slower: within 3 × TTL + 500 ms.
    @Test("after SIGKILL of the leader's coord, the next candidate leads once the session expires", arguments: servers)
    func leaderFailoverAfterSIGKILL(backend: TestBackend) async throws {
        try backend.require()
        let namespace = TestBackend.freshNamespace("elect-acceptance")
        let ttl = Duration.seconds(2)
        let url = try #require(backend.url(namespace, ttl: ttl))
        // Each candidate prints "leader <its pid>" once elected, then works until stopped.
        let command = ["sh", "-c", "echo leader $$; exec sleep 3600"]
        let first = try await LineProcess(CoordProcess.binary.path, ["--store", url, "elect", "primary", "--identity", "first", "--"] + command)
        defer { first.stop() }
        let firstLeader = try await first.nextLine(within: .seconds(20))
        #expect(firstLeader.hasPrefix("leader "))
        let second = try await LineProcess(CoordProcess.binary.path, ["--store", url, "elect", "primary", "--identity", "second", "--"] + command)
        defer { second.stop() }
        // The second candidate is queued once the election has two entries.
        let observer = try await backend.open(namespace, ttl)
        defer { Task { await observer.close() } }
        try await withDeadline("the second candidate to queue", limit: .seconds(20)) {
            for try await event in observer.watch(try Key("/elections/primary"), scope: .subtree) {
                if case .snapshot(let records) = event, records.filter({ $0.key.depth == 3 }).count == 2 { return }
                if case .put = event { return }
            }
        }

        let killedAt = ContinuousClock.now
        first.kill(SIGKILL)  // the coord process only: its command is left to its watchdog
        // Timed to when the reading thread had the line, not to when this task resumed with it.
        let (secondLeader, arrived) = try await second.nextTimedLine(within: .seconds(20))
        let failover = killedAt.duration(to: arrived)
        #expect(secondLeader.hasPrefix("leader "))
        // It used to run on, an orphan, beside the new leader's.
        let firstCommand = try #require(Int32(firstLeader.dropFirst("leader ".count)))
        #expect(ProcessTable.entry(of: firstCommand)?.runs != true, "the killed leader's command died with it")
        #expect(failover <= ttl * 3 + .milliseconds(500), "failover took \(failover) with a \(ttl) session TTL")
        FileHandle.standardError.write(Data("leader failover on \(backend.name): \(failover) (session TTL \(ttl))\n".utf8))
        if let pid = Int32(secondLeader.dropFirst("leader ".count)) { Foundation.kill(pid, SIGKILL) }
        try await cleanUp(backend, namespace)
    }

    @Test("a coord lock whose session expired while it was stopped stops its command and exits 11", arguments: servers)
    func lostLockStopsTheCommand(backend: TestBackend) async throws {
        try backend.require()
        let namespace = TestBackend.freshNamespace("lock-lost")
        let ttl = Duration.seconds(2)
        let url = try #require(backend.url(namespace, ttl: ttl))
        // The command also leaves something behind that escapes its process group and ignores SIGTERM.
        // Another child of the command's, still its own when the stop comes, gets the stop's
        // SIGTERM and says so.
        let command = [
            "sh", "-c",
            #"setsid sh -c "trap '' TERM; echo left \$\$; exec sleep 3601" & sh -c "trap 'echo termed; exit 0' TERM; echo graceful \$\$; while true; do sleep 0.1; done" & echo holding $$; exec sleep 3600"#,
        ]
        let holder = try await LineProcess(CoordProcess.binary.path, ["--store", url, "lock", "work", "--"] + command)
        defer { holder.stop() }
        var pids: [String: Int32] = [:]
        for _ in 0..<3 {
            let words = try await holder.nextLine(within: .seconds(20)).split(separator: " ")
            pids[String(words[0])] = Int32(words[1])
        }
        let child = try #require(pids["holding"])
        let left = try #require(pids["left"])

        // Frozen past its TTL, the holder's session expires on the server and its entry goes:
        // another coord lock gets the lock meanwhile. The frozen holder's command, and what it
        // left, are dead by then: its watchdog saw the beats stop (they used to run on beside
        // the next holder's).
        holder.kill(SIGSTOP)
        let next = try await LineProcess(CoordProcess.binary.path, ["--store", url, "lock", "work", "--", "sh", "-c", "echo next"])
        defer { next.stop() }
        let nextLine = try await next.nextLine(within: .seconds(20))
        #expect(nextLine == "next")
        #expect(ProcessTable.entry(of: child)?.runs != true, "the frozen holder's command was dead before the next holder ran")
        #expect(ProcessTable.entry(of: left)?.runs != true, "what the command left running too")

        // Woken, the old holder learns its session is gone and exits 11.
        holder.kill(SIGCONT)
        let status = try await holder.exitStatus(within: .seconds(30))
        #expect(status == 11)
        #expect(Foundation.kill(child, 0) != 0, "the command was stopped")
        #expect(Foundation.kill(left, 0) != 0, "what the command left running was stopped too")
        try await cleanUp(backend, namespace)
    }

    @Test("a coord lock cut off from its store stops its command and exits 11 soon after, waiting out no request time-out", arguments: servers)
    func cutOffLockExitsSoon(backend: TestBackend) async throws {
        try backend.require()
        let namespace = TestBackend.freshNamespace("lock-cut-off")
        let ttl = Duration.seconds(4)
        let direct = try #require(backend.url(namespace, ttl: ttl))
        let relay = try WorkerWaitsForStoreTests.relay(to: backend)
        defer { relay.stop() }
        let url = WorkerWaitsForStoreTests.url(direct, throughHost: relay.address)
        let holder = try await LineProcess(
            CoordProcess.binary.path,
            ["--store", url, "lock", "work", "--", "sh", "-c", "trap 'echo termed; exit 0' TERM; echo holding; while true; do sleep 0.1; done"])
        defer { holder.stop() }
        #expect(try await holder.nextLine(within: .seconds(20)) == "holding")

        // Requests now hang rather than fail, as across a partition. The command is stopped before
        // the session may end; coord then exits at once: its queue entry ends with the session.
        // It used to try to remove the entry first, waiting out etcd's 10 s request time-out, or
        // the session's two TTLs on ZooKeeper.
        relay.blackHole()
        let stopped = try await holder.nextTimedLine(within: .seconds(20))
        #expect(stopped.text == "termed")
        let exited = try await holder.exit(within: .seconds(30))
        // Both instants as the reading and waiting threads saw them: in a full run the test's own
        // task resumes late, by however busy the run's threads are, and that is not coord's.
        let lingered = stopped.arrived.duration(to: exited.at)
        #expect(exited.status == 11)
        // On etcd coord's exit sends the lease's revoke, waiting for it only while the lease may
        // still live: the beat (0.8 s of a 4 s TTL) left when the command was stopped, where it
        // waited the revoke's whole 2 s (2.1 s); on ZooKeeper it exits at once (0.03 s). Before
        // that, coord took 12.3 s on etcd and 4.7 s on ZooKeeper. Ending the command, its
        // watchdog and coord itself grows with the machine's load (0.05 s on ZooKeeper alone,
        // 0.28 s beside a busy test process, etcd 0.8 s then 1.18 s), so the bound is as loose
        // as it can be while the revoke's whole wait, 2 s at least after the stop, still fails it.
        #expect(lingered < .milliseconds(1900), "coord exited \(lingered) after its command was stopped")
        relay.stop()
        try await cleanUp(backend, namespace)
    }

    @Test("coord lock --timeout on a busy lock exits 12 without running the command; the lock's key goes with its last user", arguments: servers)
    func busyLockTimesOut(backend: TestBackend) async throws {
        try backend.require()
        let namespace = TestBackend.freshNamespace("lock-busy")
        let url = try #require(backend.url(namespace, ttl: .seconds(4)))
        let holder = try await LineProcess(
            CoordProcess.binary.path, ["--store", url, "lock", "busy", "--", "sh", "-c", "echo holding; exec sleep 600"])
        defer { holder.stop() }
        #expect(try await holder.nextLine(within: .seconds(20)) == "holding")

        let coord = try CoordProcess()
        defer { coord.removeDirectory() }
        let result = try await coord.run(["--store", url, "lock", "busy", "--timeout", "1s", "--", "echo", "ran"])
        #expect(result.status == 12, "\(result.stderr)")
        #expect(result.stdout.isEmpty)
        #expect(result.stderrLines == ["coord: lock /locks/busy was not acquired within 1s; the command did not run"])
        // The waiter that gave up leaves the key: the holder's entry is in it.
        let store = try await backend.open(namespace, .seconds(4))
        defer { Task { await store.close() } }
        #expect(try await store.children(of: try Key("/locks/busy")).count == 1)
        holder.kill(SIGTERM)
        #expect(try await holder.exitStatus(within: .seconds(20)) == 143)
        // The last one out removes it: a name used once leaves no empty key behind.
        #expect(try await store.exists(try Key("/locks/busy")) == false)
        let once = try await coord.run(["--store", url, "elect", "once", "--", "true"])
        #expect(once.status == 0, "\(once.stderr)")
        #expect(try await store.exists(try Key("/elections/once")) == false)
        try await cleanUp(backend, namespace)
    }

    @Test(
        "a signal to a coord lock still waiting ends the wait with 128 + its number; the command never runs",
        arguments: servers.flatMap { backend in [(backend, SIGTERM), (backend, SIGINT)] })
    func signalWhileWaiting(backend: TestBackend, signal: Int32) async throws {
        try backend.require()
        let namespace = TestBackend.freshNamespace("lock-wait-signal")
        let url = try #require(backend.url(namespace, ttl: .seconds(4)))
        let holder = try await LineProcess(
            CoordProcess.binary.path, ["--store", url, "lock", "queue", "--", "sh", "-c", "echo holding; exec sleep 600"])
        defer { holder.stop() }
        #expect(try await holder.nextLine(within: .seconds(20)) == "holding")
        let waiter = try await LineProcess(CoordProcess.binary.path, ["--store", url, "lock", "queue", "--", "echo", "ran"])
        defer { waiter.stop() }
        let observer = try await backend.open(namespace, .seconds(4))
        defer { Task { await observer.close() } }
        try await waitForEntries(2, under: try Key("/locks/queue"), in: observer)

        waiter.kill(signal)
        #expect(try await waiter.exitStatus(within: .seconds(20)) == 128 + signal)
        #expect(await waiter.remainingLines() == [], "the command ran")
        // It left the queue: only the holder's entry remains.
        try await waitForEntries(1, under: try Key("/locks/queue"), in: observer)
        holder.kill(SIGTERM)
        #expect(try await holder.exitStatus(within: .seconds(20)) == 143)
        try await cleanUp(backend, namespace)
    }

    @Test("coord members --watch --json prints one line per state, an empty group as an empty list", arguments: servers)
    func membersWatchJSON(backend: TestBackend) async throws {
        try backend.require()
        let namespace = TestBackend.freshNamespace("members-watch")
        let url = try #require(backend.url(namespace, ttl: .seconds(4)))
        let store = try await backend.open(namespace, .seconds(4))
        defer { Task { await store.close() } }
        let group = try Key("/groups/crew")
        _ = try await store.create(try group.child("a"), value: Array("first".utf8), mode: .ephemeral)
        let watcher = try await LineProcess(CoordProcess.binary.path, ["--store", url, "members", "crew", "--watch", "--json"])
        defer { watcher.stop() }

        // Each change waits for the state before it to be printed: every state gets its own line.
        var states: [[String]] = []
        func nextState() async throws -> [String] {
            let line = try await watcher.nextLine(within: .seconds(20))
            let object = try #require(try JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any], "\(line)")
            #expect(object.keys.sorted() == ["members"], "\(line)")
            let members = try #require(object["members"] as? [[String: Any]], "\(line)")
            for member in members { #expect(member.keys.sorted() == ["id", "joinedRevision", "metadata"], "\(line)") }
            if let first = members.first, first["id"] as? String == "a" { #expect(first["metadata"] as? String == "Zmlyc3Q=") }
            return members.compactMap { $0["id"] as? String }
        }
        states.append(try await nextState())
        _ = try await store.create(try group.child("b"), value: [], mode: .ephemeral)
        states.append(try await nextState())
        try await store.delete(try group.child("a"))
        states.append(try await nextState())
        try await store.delete(try group.child("b"))
        states.append(try await nextState())
        #expect(states == [["a"], ["a", "b"], ["b"], []])

        watcher.kill(SIGTERM)
        #expect(try await watcher.exitStatus(within: .seconds(20)) == 0)
        #expect(await watcher.remainingLines() == [])
        try await cleanUp(backend, namespace)
    }

    /// Groups could only be listed and watched from the shell: nothing joined one.
    @Test("coord members --join runs a command as a member: listed with its metadata while it runs, the id refused to a second joiner, gone once it exits", arguments: servers)
    func membersJoin(backend: TestBackend) async throws {
        try backend.require()
        let namespace = TestBackend.freshNamespace("members-join")
        let url = try #require(backend.url(namespace, ttl: .seconds(4)))
        let member = try await LineProcess(
            CoordProcess.binary.path,
            ["--store", url, "members", "web", "--join", "web-1", "--metadata", "10.0.0.5:8080", "--", "sh", "-c", "echo joined $COORD_MEMBER_ID; exec sleep 3600"])
        defer { member.stop() }
        #expect(try await member.nextLine(within: .seconds(20)) == "joined web-1")
        let coord = try CoordProcess()
        defer { coord.removeDirectory() }
        let listed = try await coord.run(["--store", url, "members", "web"])
        #expect(listed.status == 0 && listed.stdoutText == "web-1  10.0.0.5:8080\n", "\(listed.stdoutText) \(listed.stderr)")
        let second = try await coord.run(["--store", url, "members", "web", "--join", "web-1", "--", "true"])
        #expect(second.status == 3 && second.stderrLines.count == 1, "\(second.stderr)")
        // A supervisor restarting a killed member meets this until the old session expires: the line says why and what to do.
        #expect(second.stderr.contains("already taken in group /groups/web: another member holds it, or a process that held it ended without leaving"))
        #expect(second.stderr.contains("choose another id, or try again once it has gone"))

        member.kill(SIGTERM)  // passed on to the command, which it ends: 143, and the member leaves
        #expect(try await member.exitStatus(within: .seconds(20)) == 143)
        let after = try await coord.run(["--store", url, "members", "web"])
        #expect(after.status == 0 && after.stdoutText.isEmpty, "\(after.stdoutText)")
        try await cleanUp(backend, namespace)
    }

    @Test("coord members --watch ends each state with a line --, an empty group with the -- alone", arguments: servers)
    func membersWatchText(backend: TestBackend) async throws {
        try backend.require()
        let namespace = TestBackend.freshNamespace("members-watch-text")
        let url = try #require(backend.url(namespace, ttl: .seconds(4)))
        let store = try await backend.open(namespace, .seconds(4))
        defer { Task { await store.close() } }
        let group = try Key("/groups/crew")
        _ = try await store.create(try group.child("a"), value: Array("first".utf8), mode: .ephemeral)
        let watcher = try await LineProcess(CoordProcess.binary.path, ["--store", url, "members", "crew", "--watch"])
        defer { watcher.stop() }

        // A state is whole when its "--" arrives, before any further change.
        func nextState() async throws -> [String] {
            var lines: [String] = []
            while true {
                let line = try await watcher.nextLine(within: .seconds(20))
                if line == "--" { return lines }
                lines.append(line)
            }
        }
        var states = [try await nextState()]
        _ = try await store.create(try group.child("b"), value: [], mode: .ephemeral)
        states.append(try await nextState())
        try await store.delete(try group.child("a"))
        try await store.delete(try group.child("b"))
        // The two deletes may come as one state or two; the last is the empty group.
        repeat { states.append(try await nextState()) } while states.last != []
        #expect(Array(states.prefix(2)) == [["a  first"], ["a  first", "b"]])

        watcher.kill(SIGTERM)
        #expect(try await watcher.exitStatus(within: .seconds(20)) == 0)
        #expect(await watcher.remainingLines() == [])
        try await cleanUp(backend, namespace)
    }

    /// Metadata printed raw made lines of its own: a line "--" in it ended a state of --watch early.
    @Test("coord members shows metadata that is not one line of text escaped, or by its size, one line per member", arguments: servers)
    func membersTextKeepsOneLinePerMember(backend: TestBackend) async throws {
        try backend.require()
        let namespace = TestBackend.freshNamespace("members-text")
        let url = try #require(backend.url(namespace, ttl: .seconds(4)))
        let store = try await backend.open(namespace, .seconds(4))
        defer { Task { await store.close() } }
        let group = try Key("/groups/crew")
        _ = try await store.create(try group.child("a"), value: Array("line1\n--\n\"q\"\\".utf8), mode: .ephemeral)
        _ = try await store.create(try group.child("b"), value: [0xFF, 0xFE, 0x00], mode: .ephemeral)
        _ = try await store.create(try group.child("c"), value: Array("10.0.0.5:8080 ünïcode".utf8), mode: .ephemeral)
        let expected = [#"a  "line1\n--\n\"q\"\\""#, "b  <3 bytes>", "c  10.0.0.5:8080 ünïcode"]
        let coord = try CoordProcess()
        defer { coord.removeDirectory() }
        let listed = try await coord.run(["--store", url, "members", "crew"])
        #expect(listed.status == 0 && listed.stdoutText == expected.joined(separator: "\n") + "\n", "\(listed.stdoutText) \(listed.stderr)")

        let watcher = try await LineProcess(CoordProcess.binary.path, ["--store", url, "members", "crew", "--watch"])
        defer { watcher.stop() }
        var state: [String] = []
        while true {
            let line = try await watcher.nextLine(within: .seconds(20))
            if line == "--" { break }
            state.append(line)
        }
        #expect(state == expected, "the first state is whole, three lines")
        watcher.kill(SIGINT)
        #expect(try await watcher.exitStatus(within: .seconds(20)) == 0)
        try await cleanUp(backend, namespace)
    }

    /// Waits until `key` has exactly `count` children (queue entries).
    private func waitForEntries(_ count: Int, under key: Key, in store: any CoordinationStore) async throws {
        try await withDeadline("\(count) entries under \(key)", limit: .seconds(20)) {
            var records: [Key: Record] = [:]
            for try await event in store.watch(key, scope: .children) {
                records.apply(event)
                if records.keys.filter({ $0.parent == key }).count == count { return }
            }
        }
    }

    private func cleanUp(_ backend: TestBackend, _ namespace: Key) async throws {
        let root = try await backend.open(.root, .seconds(5))
        try? await root.delete(namespace, ifVersion: nil, recursive: true)
        await root.close()
    }
}

/// Runs a shell script to completion on a thread of its own; returns its exit status.
enum ShellProcess {
    static func run(_ script: String, in folder: URL, environment: [String: String]) async throws -> Int32 {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/bin/sh")
        process.arguments = ["-c", script]
        process.currentDirectoryURL = folder
        process.environment = ProcessInfo.processInfo.environment.merging(environment) { $1 }
        try await ChildProcessLaunch.run(process)
        let box = UncheckedProcess(process)
        return await withCheckedContinuation { continuation in
            Thread {
                box.process.waitUntilExit()
                continuation.resume(returning: box.process.terminationStatus)
            }.start()
        }
    }
}

/// A long-running process whose stdout is read line by line (on a thread of its own).
final class LineProcess: Sendable {
    /// A line, and when the reading thread had it: the instant a test's task resumes with it
    /// comes later by however busy the test run's few threads are.
    typealias TimedLine = (text: String, arrived: ContinuousClock.Instant)

    private let box: UncheckedProcess
    private let lines: AsyncStream<TimedLine>
    /// Seen as it happens, not once the test asks: see ``ExitRecord``.
    private let exitRecord: ExitRecord

    init(_ executable: String, _ arguments: [String]) async throws {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: executable)
        process.arguments = arguments
        // An explicit environment, as every other launcher here passes: left nil, Foundation reads
        // the live `environ` while launching, and one CI run crashed inside Process.run() there.
        process.environment = ProcessInfo.processInfo.environment
        let output = Pipe()
        process.standardOutput = output
        exitRecord = ExitRecord(of: process)
        try await ChildProcessLaunch.run(process)
        box = UncheckedProcess(process)
        let (lines, continuation) = AsyncStream<TimedLine>.makeStream()
        self.lines = lines
        let handle = output.fileHandleForReading
        Thread {
            var buffer = Data()
            while true {
                let chunk = handle.availableData
                if chunk.isEmpty { break }
                buffer.append(chunk)
                while let newline = buffer.firstIndex(of: UInt8(ascii: "\n")) {
                    continuation.yield((String(decoding: buffer[..<newline], as: UTF8.self), ContinuousClock.now))
                    buffer.removeSubrange(...newline)
                }
            }
            continuation.finish()
        }.start()
    }

    /// The next line the process prints, failing after `limit`.
    func nextLine(within limit: Duration) async throws -> String {
        try await nextTimedLine(within: limit).text
    }

    /// The next line the process prints and when it was read, failing after `limit`.
    func nextTimedLine(within limit: Duration) async throws -> TimedLine {
        let lines = lines
        return try await withDeadline("a line from the process", limit: limit) {
            for await line in lines { return line }
            throw CoordinationError(.unavailable, "the process ended without printing a line")
        }
    }

    func kill(_ signal: Int32) { Foundation.kill(box.process.processIdentifier, signal) }

    /// The lines still to come, once the process has closed its stdout.
    func remainingLines() async -> [String] {
        var rest: [String] = []
        for await line in lines { rest.append(line.text) }
        return rest
    }

    /// Waits for the process to exit (on a thread of its own) and returns its status.
    func exitStatus(within limit: Duration) async throws -> Int32 {
        try await exit(within: limit).status
    }

    /// Waits for the process to exit and returns its status and when it exited, as Foundation's
    /// thread saw it then (see ``TimedLine``): a thread started only once the test's task asked
    /// saw an exit that had already happened as late as that task resumed.
    func exit(within limit: Duration) async throws -> (status: Int32, at: ContinuousClock.Instant) {
        let exitRecord = exitRecord
        return try await withDeadline("the process to exit", limit: limit) {
            let exit = try await exitRecord.wait()
            return (exit.status, exit.at)
        }
    }

    /// Stops the process if it still runs.
    func stop() {
        if box.process.isRunning { kill(SIGKILL) }
    }
}

/// Foundation's `Process` is not `Sendable`; these tests only call its thread-safe members
/// (`processIdentifier`, `isRunning`, `waitUntilExit`, `terminationStatus`) from other threads.
final class UncheckedProcess: @unchecked Sendable {
    let process: Process
    init(_ process: Process) { self.process = process }
}

