import Coordination
import CoordinationTestSupport
import Foundation
import Testing

/// A command that ignores SIGTERM, stopped by its worker (timeout, cancel, graceful shutdown):
/// its whole process group is SIGKILLed after the grace, and the run ends (or is handed back)
/// only once the group is gone, so that no takeover can run beside it.
extension SchedulerProcessTests {
    /// A history entry, with the fields these tests read.
    struct EndedRun: Decodable, Sendable {
        var job: String
        var outcome: String
        var worker: String?
        var message: String?
        var stdoutTail: String?
        var stderrTail: String?
    }

    /// The first history entry of `job`, once it is written.
    static func firstEntry(of job: String, in store: any CoordinationStore) async throws -> EndedRun {
        try await withDeadline("a history entry of \(job)", limit: .seconds(30)) {
            var entries = DecodedRecords<EndedRun>()
            for try await event in store.watch(try Key("/scheduler/history"), scope: .subtree) {
                entries.apply(event)
                if let entry = entries.values.values.first(where: { $0.job == job }) { return entry }
            }
            throw CoordinationError(.unavailable, "the history watch ended")
        }
    }

    /// The process ids a command wrote to the FIFO at `path` (after it started them).
    static func pids(fromFIFO path: String) async throws -> [pid_t] {
        let pids = try await withDeadline("the command to start") { try await readLine(fromFIFO: path) }
            .split(separator: " ").compactMap { pid_t($0) }
        #expect(pids.count == 2 && pids.allSatisfy { !hasEnded($0) }, "\(pids)")
        return pids
    }

    /// A command that ignores SIGTERM, as does the child it starts; both ids go to `$FIFO`.
    static let termIgnoringShell = #"trap '' TERM; echo started; echo oops >&2; sleep 60 & echo "$$ $!" > "$FIFO"; wait"#

    @Test("a command ignoring SIGTERM that times out is killed, children included, before its run ends", arguments: servers)
    func timedOutCommandIsGoneWhenItsRunEnds(backend: TestBackend) async throws {
        try await Self.stopScenario(
            backend, job: "tt", command: Self.termIgnoringShell, options: ["--timeout", "1s"], expecting: "timedOut") { _, _ in }
    }

    @Test("a command ignoring SIGTERM that is cancelled is killed, children included, before its run ends", arguments: servers)
    func cancelledCommandIsGoneWhenItsRunEnds(backend: TestBackend) async throws {
        // The command itself is not a shell (it replaced it), as with `exec python3 …`; it tells
        // its id and its child's once it ignores SIGTERM.
        let python = #"""
            import os, signal, time
            signal.signal(signal.SIGTERM, signal.SIG_IGN)
            print("started", flush=True)
            with open(os.environ["FIFO"], "w") as fifo: fifo.write("%d %s\n" % (os.getpid(), os.environ["CHILD"]))
            time.sleep(60)
            """#
        let command = #"echo oops >&2; (trap '' TERM; exec sleep 60) & export FIFO CHILD=$!; exec python3 -c '"# + python + "'"
        try await Self.stopScenario(backend, job: "cc", command: command, expecting: "cancelled") { coord, url in
            let cancelled = try await coord.run(["--store", url, "job", "cancel", "cc"])
            #expect(cancelled.status == 0, "\(cancelled.stderr)")
        }
    }

    /// Adds job `job` running `command` (with `$FIFO` set), starts a worker, waits for the
    /// command to start, does `stop` and checks that, once the run's history entry (`outcome`)
    /// is written, nothing of the command's process group runs any more; and that the entry
    /// kept the command's output.
    static func stopScenario(
        _ backend: TestBackend, job: String, command: String, options: [String] = [], expecting outcome: String,
        test: String = #function, stop: (CoordProcess, String) async throws -> Void
    ) async throws {
        let handles = try TestHandles(backend, test: test)
        let coord = try CoordProcess()
        defer { coord.removeDirectory() }
        let url = try #require(backend.url(handles.namespace, ttl: handles.ttl))
        let store = try await handles.open()
        let fifo = coord.directory.appendingPathComponent("pids").path
        #expect(mkfifo(fifo, 0o600) == 0)
        let added = try await coord.run(["--store", url, "job", "add", job, "--command", "FIFO='\(fifo)'; " + command] + options)
        #expect(added.status == 0, "\(added.stderr)")
        let worker = try await Background(coord, ["--store", url, "worker", "--id", "g1"], name: "g1")
        let pids = try await Self.pids(fromFIFO: fifo)
        let group = try #require(ShellJobHandlerTests.processGroup(of: pids[0]))
        try await stop(coord, url)
        let entry = try await Self.firstEntry(of: job, in: store)
        // At once, without waiting: the entry is written after the group is gone.
        let running = ShellJobHandlerTests.runningProcesses(inGroup: group)
        #expect(running.isEmpty, "still running when the run was recorded as \(entry.outcome): \(running)")
        #expect(entry.outcome == outcome)
        #expect(entry.stdoutTail == "started\n" && entry.stderrTail == "oops\n", "the output before the stop is kept")
        #expect(await worker.terminate() == 0, "\(worker.stderr)")
        for pid in running { kill(pid, SIGKILL) }
        await handles.closeAll()
    }

    /// A worker shutting down gracefully hands its runs back once its `--grace` is over: the
    /// worker that takes the run over must never run its command beside the first one.
    @Test("a command ignoring SIGTERM is killed before its run is handed back, so no takeover overlaps it", arguments: servers)
    func handedBackCommandIsGoneBeforeTheTakeover(backend: TestBackend) async throws {
        let handles = try TestHandles(backend)
        let coord = try CoordProcess()
        defer { coord.removeDirectory() }
        let url = try #require(backend.url(handles.namespace, ttl: handles.ttl))
        let store = try await handles.open()
        // Each attempt tells its process ids through a FIFO of its worker's.
        let fifos = ["g1", "g2"].map { coord.directory.appendingPathComponent("pids.\($0)").path }
        for fifo in fifos { #expect(mkfifo(fifo, 0o600) == 0) }
        let command = #"trap '' TERM; sleep 60 & echo "$$ $!" > "$FIFO.$COORD_WORKER_ID"; wait"#
        let fifo = coord.directory.appendingPathComponent("pids").path
        let added = try await coord.run(["--store", url, "job", "add", "hb", "--command", "FIFO='\(fifo)'; " + command])
        #expect(added.status == 0, "\(added.stderr)")
        let first = try await Background(coord, ["--store", url, "worker", "--id", "g1", "--grace", "1s"], name: "g1")
        let firstPids = try await Self.pids(fromFIFO: fifos[0])
        let firstGroup = try #require(ShellJobHandlerTests.processGroup(of: firstPids[0]))
        let second = try await Background(coord, ["--store", url, "worker", "--id", "g2", "--grace", "1s"], name: "g2")
        try await withDeadline("g2 to join") {
            for try await event in store.watch(try Key("/scheduler/workers/g2")) {
                var records: [Key: Record] = [:]
                records.apply(event)
                if !records.isEmpty { return }
            }
        }
        first.process.terminate()
        // The second attempt has started: the first must be gone already.
        let secondPids = try await Self.pids(fromFIFO: fifos[1])
        let overlapping = ShellJobHandlerTests.runningProcesses(inGroup: firstGroup)
        #expect(overlapping.isEmpty, "the first attempt still runs beside the second: \(overlapping)")
        let firstStatus = await first.terminate()
        #expect(firstStatus == 0, "status \(firstStatus): \(first.stderr)")
        // The second worker's graceful exit (which hands the run back again) waits likewise.
        let secondGroup = try #require(ShellJobHandlerTests.processGroup(of: secondPids[0]))
        #expect(await second.terminate(limit: .seconds(30)) == 0, "\(second.stderr)")
        let left = ShellJobHandlerTests.runningProcesses(inGroup: secondGroup)
        #expect(left.isEmpty, "still running after its worker exited: \(left)")
        for pid in overlapping + left { kill(pid, SIGKILL) }
        await handles.closeAll()
    }
}
