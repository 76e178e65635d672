import Coordination
@testable import CoordinationCLI
import CoordinationLocalServers
import CoordinationTestSupport
import Foundation
import Synchronization
import Testing

/// `coord run` stopped by signals, as a real process: its in-process workers drain together, so
/// no command starts twice, and a second signal ends it at once.
@Suite("coord run on SIGINT", .serverLoadLimit)
struct RunInterruptTests {
    /// `coord run`'s grace before it hands back what still runs.
    static let grace = RunCommand.gracePeriod

    /// A `coord run` process whose stderr is read line by line as it comes, and whose stdout is
    /// collected until it exits.
    final class LiveCoord: Sendable {
        let process: Process
        let stderrLines: AsyncStream<String>
        private let stdout = Mutex(Data())
        private let stderr = Mutex("")
        /// How many of the two streams have ended, and who waits for both: a test reading stderr
        /// after the exit must have its last line (once stdout alone was waited for, and the
        /// last stderr line was sometimes still unread).
        private let streamsEnded = Mutex<(count: Int, waiter: CheckedContinuation<Void, Never>?)>((0, nil))
        /// The exit as it happened (``ExitRecord``), for timing it.
        private let exitRecord: ExitRecord

        init(_ coord: CoordProcess, _ arguments: [String]) async throws {
            let process = Process()
            process.executableURL = CoordProcess.binary
            process.arguments = arguments
            process.environment = coord.environment
            process.currentDirectoryURL = coord.directory
            let out = Pipe(), err = Pipe()
            process.standardInput = FileHandle.nullDevice
            process.standardOutput = out
            process.standardError = err
            let (lines, continuation) = AsyncStream<String>.makeStream()
            stderrLines = lines
            self.process = process
            exitRecord = ExitRecord(of: process)
            try await ChildProcessLaunch.run(process)
            // Blocking reads on threads of their own, never on the cooperative pool.
            Thread { [self] in
                var pending = Data()
                while case let chunk = err.fileHandleForReading.availableData, !chunk.isEmpty {
                    pending.append(chunk)
                    while let newline = pending.firstIndex(of: UInt8(ascii: "\n")) {
                        let line = String(decoding: pending[pending.startIndex..<newline], as: UTF8.self)
                        pending.removeSubrange(pending.startIndex...newline)
                        stderr.withLock { $0 += line + "\n" }
                        continuation.yield(line)
                    }
                }
                continuation.finish()
                streamEnded()
            }.start()
            Thread { [self] in
                let data = out.fileHandleForReading.readDataToEndOfFile()
                stdout.withLock { $0 = data }
                streamEnded()
            }.start()
        }

        private func streamEnded() {
            streamsEnded.withLock { ended -> CheckedContinuation<Void, Never>? in
                ended.count += 1
                guard ended.count == 2 else { return nil }
                defer { ended.waiter = nil }
                return ended.waiter
            }?.resume()
        }

        /// Waits for a stderr line containing `text`, and returns it.
        func line(containing text: String, limit: Duration = .seconds(30)) async throws -> String {
            let lines = stderrLines
            return try await withDeadline("a stderr line with '\(text)'", limit: limit) {
                for await line in lines where line.contains(text) { return line }
                throw CoordinationError(.unavailable, "coord ended its stderr without '\(text)'")
            }
        }

        /// Waits for the exit (killed after `limit`) and for both streams to be read to their end;
        /// returns the status with all of stdout, and when coord exited, as Foundation's thread
        /// saw it then, not as late as the test's task resumed.
        func exit(limit: Duration = .seconds(60)) async -> (status: Int32, stdout: String, at: ContinuousClock.Instant) {
            let status = await MigrateCommandTests.exit(of: process, limit: limit).status
            // Foundation runs the termination handler just after the exit shows: moments away.
            let exitedAt = (try? await exitRecord.wait())?.at ?? .now
            await withCheckedContinuation { (continuation: CheckedContinuation<Void, Never>) in
                let ended = streamsEnded.withLock { ended in
                    if ended.count == 2 { return true }
                    ended.waiter = continuation
                    return false
                }
                if ended { continuation.resume() }
            }
            return (status, String(decoding: stdout.withLock { $0 }, as: UTF8.self), exitedAt)
        }

        var stderrText: String { stderr.withLock { $0 } }
    }

    /// A jobs file with one job of two shards, whose command appends to `starts` when it
    /// starts, then tells the test through `fifo` (its shard and its shell's pid) and sleeps.
    static func jobsFile(_ coord: CoordProcess, starts: String, fifo: String) throws -> String {
        let command =
            "echo \"start $COORD_SHARD $COORD_WORKER_ID $COORD_FENCING_TOKEN\" >> '\(starts)'; echo \"$COORD_SHARD $$\" > '\(fifo)'; exec sleep 30"
        let job: [String: Any] = ["id": "long", "command": command, "shards": 2]
        return try coord.write(String(decoding: try JSONSerialization.data(withJSONObject: [job]), as: UTF8.self), to: "jobs.json")
    }

    /// Starts `coord run` with a two-shard job whose commands append to a log and report their
    /// start through a FIFO; returns once both commands run, with their FIFO lines and the log's path.
    static func startTwoShards(_ coord: CoordProcess, _ url: String) async throws -> (LiveCoord, [String], starts: String) {
        let starts = coord.directory.appendingPathComponent("starts.log").path
        let fifo = coord.directory.appendingPathComponent("started").path
        #expect(mkfifo(fifo, 0o600) == 0)
        let file = try jobsFile(coord, starts: starts, fifo: fifo)
        let run = try await LiveCoord(coord, ["--store", url, "run", file])
        let started = try await withDeadline("both shards' commands to start") { try await readLines(fromFIFO: fifo, count: 2) }
        return (run, started, starts)
    }

    /// The process ids the shards' commands wrote as the last word of their start lines.
    static func commandPIDs(_ started: [String]) -> [pid_t] {
        started.compactMap { $0.split(separator: " ").last.flatMap { pid_t($0) } }
    }

    static func url(_ backend: TestBackend, _ handles: TestHandles) -> String? {
        backend.name == "memory" ? "memory://" : backend.url(handles.namespace, ttl: handles.ttl)
    }

    @Test("on SIGINT every in-process worker stops claiming: each command started once, handed back after the grace, status 130", arguments: TestBackend.all)
    func interruptStartsNothingTwice(backend: TestBackend) async throws {
        let handles = try TestHandles(backend)
        let coord = try CoordProcess()
        defer { coord.removeDirectory() }
        let url = try #require(Self.url(backend, handles))
        let (run, started, starts) = try await Self.startTwoShards(coord, url)
        #expect(Set(started.map { $0.prefix(1) }) == ["0", "1"], "\(started)")
        let clock = ContinuousClock()
        let signalledAt = clock.now
        kill(run.process.processIdentifier, SIGINT)
        let (status, stdout, exitedAt) = await run.exit()
        let took = exitedAt - signalledAt

        #expect(status == 130, "\(run.stderrText)")
        // The grace, then the hand-back and the handles' closing: nothing waits for another worker's grace.
        #expect(took < Self.grace + .seconds(6), "coord took \(took) to stop after SIGINT")
        let lines = try String(contentsOfFile: starts, encoding: .utf8).split(separator: "\n")
        #expect(lines.count == 2, "each command must start once, not again on a sibling worker: \(lines)")
        #expect(run.stderrText.contains("coord: SIGINT: stopping; no new runs start"), "\(run.stderrText)")
        // The summary names what was handed back, each run once.
        let handedBack = stdout.split(separator: "\n").filter { $0.hasPrefix("long/") && $0.contains("handed back by") }
        #expect(handedBack.count == 2, "\(stdout)")
        if backend.name != "memory" {
            #expect(stdout.contains("left for other workers"), "\(stdout)")
            // On a shared store the runs wait, pending, for other workers; the history records
            // the attempts handed back.
            let runs = try await coord.run(["--store", url, "runs", "long", "--json"])
            let statuses = runs.stdoutText.split(separator: "\n").compactMap {
                (try? JSONSerialization.jsonObject(with: Data($0.utf8)) as? [String: Any])?["status"] as? String
            }
            #expect(statuses == ["pending", "pending", "handedBack", "handedBack"], "\(runs.stdoutText)")
        } else {
            #expect(stdout.contains("left unfinished (memory://"), "\(stdout)")
        }
        await handles.closeAll()
    }

    @Test("a second SIGINT exits at once with status 130, naming the runs abandoned to takeover, and takes the commands with it", arguments: TestBackend.all)
    func secondInterruptExitsAtOnce(backend: TestBackend) async throws {
        let ended = try await Self.interrupt(backend, after: SIGINT, noticed: "(SIGINT or Ctrl-C now exits at once)")
        #expect(ended.status == 130, "\(ended.stderr)")
        #expect(ended.took < Self.grace, "the second SIGINT must not wait for the grace: took \(ended.took)")
        #expect(ended.last.hasPrefix("coord: SIGINT again: exiting at once; "), "\(ended.stderr)")
        #expect(ended.last.contains("long/") && !ended.stdout.contains("summary:"), "\(ended.stderr)\n\(ended.stdout)")
        if backend.name != "memory" { #expect(ended.last.contains("abandoned to takeover"), "\(ended.last)") }
    }

    @Test("a SIGINT after a SIGTERM exits at once with status 130, named as following the SIGTERM, not as a SIGINT again", arguments: TestBackend.all)
    func interruptAfterTerminateExitsAtOnce(backend: TestBackend) async throws {
        let ended = try await Self.interrupt(backend, after: SIGTERM, noticed: "coord: SIGTERM: stopping")
        #expect(ended.status == 130, "\(ended.stderr)")
        #expect(ended.last.hasPrefix("coord: SIGINT after SIGTERM: exiting at once"), "\(ended.stderr)")
    }

    /// GNU timeout sends its SIGTERM to coord and again to coord's process group: a second
    /// SIGTERM exited at once, so `timeout 60 coord run` abandoned its runs instead of draining.
    @Test("a second SIGTERM does not cut the stop short: the grace, the hand-back and the summary, status 143", arguments: TestBackend.all)
    func secondTerminateDrains(backend: TestBackend) async throws {
        let handles = try TestHandles(backend)
        let coord = try CoordProcess()
        defer { coord.removeDirectory() }
        let url = try #require(Self.url(backend, handles))
        let (run, started, starts) = try await Self.startTwoShards(coord, url)
        kill(run.process.processIdentifier, SIGTERM)
        _ = try await run.line(containing: "coord: SIGTERM: stopping")
        kill(run.process.processIdentifier, SIGTERM)
        _ = try await run.line(containing: "coord: SIGTERM again: still stopping (SIGINT exits at once)")
        let (status, stdout, _) = await run.exit()
        #expect(status == 143, "\(run.stderrText)")
        #expect(!run.stderrText.contains("exiting at once"), "\(run.stderrText)")
        let handedBack = stdout.split(separator: "\n").filter { $0.hasPrefix("long/") && $0.contains("handed back by") }
        #expect(handedBack.count == 2 && stdout.contains("summary:"), "\(stdout)")
        #expect(try String(contentsOfFile: starts, encoding: .utf8).split(separator: "\n").count == 2)
        try await Self.expectEnded(Self.commandPIDs(started))
        await handles.closeAll()
    }

    /// Starts `coord run` with two long shards, sends it `first`, waits for the stderr line
    /// `noticed`, then sends SIGINT and waits for the exit (timed from that SIGINT). The commands
    /// must die with the process (their lifeline), as a killed worker's do.
    static func interrupt(
        _ backend: TestBackend, after first: Int32, noticed: String
    ) async throws -> (status: Int32, stdout: String, stderr: String, last: String, took: Duration) {
        let handles = try TestHandles(backend)
        let coord = try CoordProcess()
        defer { coord.removeDirectory() }
        let url = try #require(Self.url(backend, handles))
        let (run, started, _) = try await Self.startTwoShards(coord, url)
        let pids = Self.commandPIDs(started)
        #expect(pids.count == 2, "\(started)")
        kill(run.process.processIdentifier, first)
        _ = try await run.line(containing: noticed)
        let clock = ContinuousClock()
        let signalledAt = clock.now
        kill(run.process.processIdentifier, SIGINT)
        let (status, stdout, exitedAt) = await run.exit()
        let took = exitedAt - signalledAt
        let stderr = run.stderrText
        try await Self.expectEnded(pids)
        await handles.closeAll()
        return (status, stdout, stderr, stderr.split(separator: "\n").last.map(String.init) ?? "", took)
    }

    /// Expects the commands `pids` to end within 5 s of coord's exit (their lifeline sees it
    /// gone), and kills any left so that none outlives the test.
    static func expectEnded(_ pids: [pid_t]) async throws {
        let clock = ContinuousClock()
        let deadline = clock.now + .seconds(5)
        while !pids.allSatisfy(SchedulerProcessTests.hasEnded) && clock.now < deadline { try await Task.sleep(for: .milliseconds(20)) }
        #expect(pids.allSatisfy(SchedulerProcessTests.hasEnded), "still running: \(pids.filter { !SchedulerProcessTests.hasEnded($0) })")
        for pid in pids where !SchedulerProcessTests.hasEnded(pid) { kill(pid, SIGKILL) }
    }
}
