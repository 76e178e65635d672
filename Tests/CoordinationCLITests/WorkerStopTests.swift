import Coordination
import CoordinationLocalServers
import CoordinationTestSupport
import Foundation
import Testing

/// How `coord worker` stops: a signal drains it, a SIGINT then (Ctrl-C again) ends it at once,
/// and a store out of reach is not waited for beyond the grace.
@Suite("coord worker stops on a signal, at once on Ctrl-C again, and without waiting for a store out of reach", .serverLoadLimit)
struct WorkerStopTests {
    @Test("a worker told to stop while cut off from its store exits soon after its grace, not two TTLs later", arguments: SchedulerProcessTests.servers)
    func cutOffWorkerStopsSoon(backend: TestBackend) async throws {
        let handles = try TestHandles(backend, ttl: .seconds(6))
        let coord = try CoordProcess()
        defer { coord.removeDirectory() }
        let (relay, url) = try WorkerWaitsForStoreTests.relayed(backend, handles)
        defer { relay.stop() }
        let worker = try await SchedulerProcessTests.Background(
            coord, ["--store", url, "worker", "--id", "cut-off", "--grace", "1s", "--log-level", "warning"], name: "cut-off")
        defer { if worker.process.isRunning { kill(worker.process.processIdentifier, SIGKILL) } }
        let store = try await handles.open()
        #expect(try await WorkerWaitsForStoreTests.joined("cut-off", in: store, limit: .seconds(30)), "\(worker.stderr)")

        // Requests now hang, as across a partition. Stopping, the worker used to try to remove
        // its member and leader entries for as long as its session might live: two TTLs (12 s)
        // from its last contact, longer on etcd where each try waits out the request time-out.
        relay.blackHole()
        let signalled = ContinuousClock.now
        worker.process.terminate()
        let (_, status, exitedAt) = await worker.exit(limit: .seconds(40))
        let took = signalled.duration(to: exitedAt)
        #expect(status == 0, "\(worker.stderr)")
        #expect(worker.stderr.contains("coord: the store is out of reach: not waiting for it"), "\(worker.stderr)")
        // The grace, a second, losing contact (within the TTL) and closing: well under two TTLs.
        #expect(took < .seconds(9), "coord worker took \(took) to exit")
        relay.stop()
        await handles.closeAll()
    }

    @Test("coord run stopped while cut off from its store ends soon after its grace, with 130 and the summary as last read", arguments: SchedulerProcessTests.servers)
    func cutOffRunStopsSoon(backend: TestBackend) async throws {
        let run = try await Self.stopRunCutOff(backend, ttl: .seconds(6))
        #expect(run.status == 130, "\(run.stderr)")
        #expect(run.stderr.contains("coord: the store is out of reach; the summary is as last read"), "\(run.stderr)")
        #expect(run.stdout.contains("summary:"), "\(run.stdout)")
        // The grace (5 s), a second, losing contact and closing; it used to take 43 s (each read
        // of the summary waiting out etcd's request time-out) and end with 9.
        #expect(run.took < .seconds(15), "coord run took \(run.took) to exit")
    }

    /// coord run asked its reading handle's session whether the handle was closed. On etcd a
    /// handle refuses calls from the start of its close, but says `closed` only once its lease's
    /// revoke is over: a summary read in between said "cannot read the outcomes (the store handle
    /// is closed)" (a loaded machine let it in), and the live view logged the closed handle as a
    /// failure. A long TTL makes each revoke wait its whole 2 s (the lease may still live), which
    /// opens that window every time.
    @Test("coord run cut off says the store is out of reach even while closing a handle still waits for its lease's revoke")
    func cutOffRunNamesTheOutageWhileClosing() async throws {
        let run = try await Self.stopRunCutOff(.etcd, ttl: .seconds(20))
        #expect(run.status == 130, "\(run.stderr)")
        #expect(run.stderr.contains("coord: the store is out of reach; the summary is as last read"), "\(run.stderr)")
        // Nor, while that close went on, did the live view take the closed handle for a failure.
        let closedTakenForAFailure = run.stderr.split(separator: "\n").filter {
            $0.contains("the store handle is closed") && ($0.contains("cannot read the jobs' outcomes") || $0.contains("live progress stopped"))
        }
        #expect(closedTakenForAFailure.isEmpty, "\(run.stderr)")
    }

    /// Runs `coord run` through a relay until its first run's end is shown live, cuts the relay
    /// off (a black hole), sends SIGINT, and waits for the exit (timed from the signal).
    static func stopRunCutOff(
        _ backend: TestBackend, ttl: Duration
    ) async throws -> (status: Int32, stdout: String, stderr: String, took: Duration) {
        let handles = try TestHandles(backend, ttl: ttl)
        let coord = try CoordProcess()
        defer { coord.removeDirectory() }
        let (relay, url) = try WorkerWaitsForStoreTests.relayed(backend, handles)
        defer { relay.stop() }
        let run = try await SchedulerProcessTests.Background(coord, ["--store", url, "run"], name: "run", keepStdout: true)
        defer { if run.process.isRunning { kill(run.process.processIdentifier, SIGKILL) } }
        // The example jobs: the first run's end is shown live.
        try await run.waitFor(" succeeded on ")

        relay.blackHole()
        let signalled = ContinuousClock.now
        kill(run.process.processIdentifier, SIGINT)
        let (_, status, exitedAt) = await run.exit(limit: .seconds(90))
        let took = signalled.duration(to: exitedAt)
        relay.stop()
        await handles.closeAll()
        return (status, run.stdout, run.stderr, took)
    }

    @Test("SIGINT ends a draining worker at once, with 130, and its command with it; SIGTERM again does not", arguments: SchedulerProcessTests.servers)
    func secondSignalExitsAtOnce(backend: TestBackend) async throws {
        let handles = try TestHandles(backend)
        let coord = try CoordProcess()
        defer { coord.removeDirectory() }
        let url = try #require(backend.url(handles.namespace, ttl: handles.ttl))
        let worker = try await SchedulerProcessTests.Background(
            coord, ["--store", url, "worker", "--id", "impatient", "--grace", "60s", "--log-level", "warning"], name: "impatient")
        defer { if worker.process.isRunning { kill(worker.process.processIdentifier, SIGKILL) } }
        let pidFile = coord.directory.appendingPathComponent("command.pid").path
        let added = try await coord.run([
            "--store", url, "job", "add", "long", "--command", "echo $$ > '\(pidFile)'; exec sleep 600",
        ])
        #expect(added.status == 0, "\(added.stderr)")
        let store = try await handles.open()
        try await SchedulerProcessTests.waitUntilRunning(job: "long", in: store, limit: .seconds(30))
        let command = try await withDeadline("the command's pid", limit: .seconds(10)) {
            while true {
                if let text = try? String(contentsOfFile: pidFile, encoding: .utf8), let pid = Int32(text.trimmingCharacters(in: .whitespacesAndNewlines)) {
                    return pid
                }
                try await Task.sleep(for: .milliseconds(20))
            }
        }

        // The first signal drains: the command may take its 60 s grace.
        kill(worker.process.processIdentifier, SIGTERM)
        try await worker.waitFor("coord: SIGTERM: stopping", inStderr: true)
        // SIGTERM again (a supervisor repeating itself) does not cut the drain short.
        kill(worker.process.processIdentifier, SIGTERM)
        try await worker.waitFor("coord: SIGTERM again: still stopping", inStderr: true)
        #expect(worker.process.isRunning, "the command still has its grace")
        // A SIGINT (Ctrl-C again) does not wait.
        kill(worker.process.processIdentifier, SIGINT)
        let status = await MigrateCommandTests.exit(of: worker.process, limit: .seconds(10)).status
        #expect(status == 128 + SIGINT, "\(worker.stderr)")
        // The first SIGINT, named as what it follows, not "again" (as it once was).
        #expect(worker.stderr.contains("coord: SIGINT after SIGTERM: exiting at once"), "\(worker.stderr)")
        // The command dies with the worker (its supervisor sees the worker go).
        let commandGone = try await withDeadline("the command to end", limit: .seconds(10)) {
            while kill(command, 0) == 0 { try await Task.sleep(for: .milliseconds(20)) }
            return true
        }
        #expect(commandGone)
        await handles.closeAll()
    }
}
