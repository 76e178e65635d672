import Coordination
import CoordinationScheduler
import CoordinationLocalServers
import CoordinationTestSupport
import Foundation
import Testing

/// `coord job add` and `coord worker` as separate processes sharing a real cluster (etcd and
/// ZooKeeper; each skipped locally with the reason when its server is missing, a failure under CI).
@Suite("coord worker processes share jobs on real stores", .serverLoadLimit)
struct SchedulerProcessTests {
    /// A `coord` process left running in the background; its output goes to files in the scratch directory.
    final class Background: Sendable {
        let process: Process
        let stderrPath: String
        /// Where stdout goes, with `keepStdout`.
        let stdoutPath: String?
        /// The exit as it happened (``ExitRecord``), for timing it.
        private let exitRecord: ExitRecord

        /// - Parameter loader: the dynamic loader to start coord through (`ld.so coord …`), whose
        ///   `/proc/self/exe` is then the loader, not coord.
        /// - Parameter keepStdout: stdout goes to a file (``stdout``) rather than nowhere.
        init(_ coord: CoordProcess, _ arguments: [String], name: String, loader: String? = nil, keepStdout: Bool = false) async throws {
            let process = Process()
            process.executableURL = loader.map { URL(fileURLWithPath: $0) } ?? CoordProcess.binary
            process.arguments = (loader == nil ? [] : [CoordProcess.binary.path]) + arguments
            process.environment = coord.environment
            process.currentDirectoryURL = coord.directory
            stderrPath = try coord.write("", to: "\(name).stderr")
            process.standardInput = FileHandle.nullDevice
            stdoutPath = keepStdout ? try coord.write("", to: "\(name).stdout") : nil
            process.standardOutput = try stdoutPath.map { try FileHandle(forWritingTo: URL(fileURLWithPath: $0)) } ?? FileHandle.nullDevice
            process.standardError = try FileHandle(forWritingTo: URL(fileURLWithPath: stderrPath))
            exitRecord = ExitRecord(of: process)
            try await ChildProcessLaunch.run(process)
            self.process = process
        }

        /// One background coord per name, started in turn, each with `arguments(name)`.
        static func each(_ names: [String], _ coord: CoordProcess, _ arguments: (String) -> [String]) async throws -> [Background] {
            var started: [Background] = []
            for name in names { started.append(try await Background(coord, arguments(name), name: name)) }
            return started
        }

        /// Sends SIGTERM and returns the exit status (killed after `limit`, so a hang fails the test).
        func terminate(limit: Duration = .seconds(15)) async -> Int32 {
            process.terminate()
            return await exit(limit: limit).status
        }

        /// Waits for the exit (killed after `limit`, so a hang fails the test): how it ended, and
        /// when, as Foundation's thread saw it then, not as late as the test's task resumed.
        func exit(limit: Duration = .seconds(60)) async -> ExitRecord.Exit {
            let ended = await MigrateCommandTests.exit(of: process, limit: limit)
            // Foundation runs the termination handler just after the exit shows: moments away.
            return (try? await exitRecord.wait()) ?? (ended.reason, ended.status, .now)
        }

        var stderr: String { (try? String(contentsOfFile: stderrPath, encoding: .utf8)) ?? "" }
        var stdout: String { stdoutPath.flatMap { try? String(contentsOfFile: $0, encoding: .utf8) } ?? "" }

        /// Waits until `what` shows in stdout (stderr with `inStderr`) within `limit`; fails the
        /// test at once if the process ends first. Polls the file: the process gives no other sign.
        func waitFor(_ what: String, inStderr: Bool = false, limit: Duration = .seconds(30)) async throws {
            let output: @Sendable () -> String = { [self] in inStderr ? stderr : stdout }
            try await withDeadline(what, limit: limit) { [process] in
                while !output().contains(what) && process.isRunning { try await Task.sleep(for: .milliseconds(10)) }
            }
            try #require(output().contains(what), "\(what) never came: stdout \(stdout), stderr \(stderr)")
        }
    }

    /// History entries under the scheduler's default root, as they are written.
    struct Entry: Decodable, Sendable {
        var job: String
        var outcome: String
        var token: Int64?
    }

    static func waitForSuccesses(_ expected: Int, in store: any CoordinationStore, limit: Duration) async throws -> [Entry] {
        let history = try Key("/scheduler/history")
        return try await withThrowingTaskGroup(of: [Entry]?.self) { group in
            group.addTask {
                var entries = DecodedRecords<Entry>()
                for try await event in store.watch(history, scope: .subtree) {
                    entries.apply(event)
                    let succeeded = entries.values.values.filter { $0.outcome == "succeeded" }
                    if succeeded.count >= expected { return succeeded }
                }
                return nil
            }
            group.addTask {
                try await Task.sleep(for: limit)
                return nil
            }
            defer { group.cancelAll() }
            return try await group.next().flatMap { $0 } ?? []
        }
    }

    /// Returns once a run of `job` is running (its record says so).
    static func waitUntilRunning(job: String, in store: any CoordinationStore, limit: Duration) async throws {
        let runs = try SchedulerLayout().runs(of: job)
        try await withThrowingTaskGroup(of: Bool.self) { group in
            group.addTask {
                var records: [Key: [UInt8]] = [:]
                for try await event in store.watch(runs, scope: .subtree) {
                    switch event {
                    case .snapshot(let all): records = Dictionary(all.map { ($0.key, $0.value) }, uniquingKeysWith: { $1 })
                    case .put(let record): records[record.key] = record.value
                    case .delete(let key): records[key] = nil
                    }
                    if records.values.contains(where: { String(decoding: $0, as: UTF8.self).contains(#""status":"running""#) }) {
                        return true
                    }
                }
                return false
            }
            group.addTask {
                try await Task.sleep(for: limit)
                return false
            }
            defer { group.cancelAll() }
            let running = try await group.next() ?? false
            #expect(running, "no run of \(job) started within \(limit)")
        }
    }


    /// The real servers (memory:// lives inside one process).
    static let servers = TestBackend.all.filter { $0.name != "memory" }

    @Test("two coord worker processes run every job once, pass the environment, show as draining and exit 0 on SIGTERM", arguments: servers)
    func workersShareJobs(backend: TestBackend) async throws {
        let handles = try TestHandles(backend)
        let coord = try CoordProcess()
        defer { coord.removeDirectory() }
        let url = try #require(backend.url(handles.namespace, ttl: handles.ttl))
        let store = try await handles.open()

        let sink = coord.directory.appendingPathComponent("sink.txt").path
        let command = "echo \"$COORD_JOB_ID $COORD_FENCING_TOKEN $COORD_SHARD/$COORD_SHARDS $COORD_ATTEMPT $COORD_RUN_ID $COORD_WORKER_ID\" >> '\(sink)'; echo \"out $COORD_SHARD\"; echo oops >&2"
        let jobs = ["j1", "j2", "j3", "j4"]
        for job in jobs {
            let added = try await coord.run(["--store", url, "job", "add", job, "--command", command])
            #expect(added.status == 0, "\(added.stderr)")
            // No worker is live yet: the jobs wait, and coord says so.
            #expect(added.stderr.hasPrefix("coord: note: no live worker can run \(job) (handler 'shell') yet;"), "\(added.stderr)")
        }
        let sharded = try await coord.run(["--store", url, "job", "add", "s", "--command", command, "--shards", "2"])
        #expect(sharded.status == 0, "\(sharded.stderr)")

        let workers = try await Background.each(["w1", "w2"], coord) { ["--store", url, "worker", "--id", $0, "--capacity", "2", "--log-level", "info"] }
        let succeeded = try await Self.waitForSuccesses(6, in: store, limit: .seconds(20))
        #expect(succeeded.count == 6)

        // Every run's command saw its job id, its fencing token, its shard and its attempt.
        let lines = try String(contentsOfFile: sink, encoding: .utf8).split(separator: "\n").map { $0.split(separator: " ") }
        #expect(lines.count == 6)
        let recorded = Set(succeeded.map { "\($0.job) \($0.token ?? -1)" })
        #expect(Set(lines.map { "\($0[0]) \($0[1])" }) == recorded)
        #expect(Set(lines.map { String($0[0]) }) == Set(jobs + ["s"]))
        #expect(Set(lines.filter { $0[0] == "s" }.map { String($0[2]) }) == ["0/2", "1/2"])
        #expect(lines.allSatisfy { $0[3] == "1" })

        // The same through the CLI: coord runs --json, coord jobs --json, coord workers --json.
        let runs = try await coord.run(["--store", url, "runs", "s", "--json"])
        #expect(runs.status == 0, "\(runs.stderr)")
        let runRows = try runs.stdoutText.split(separator: "\n").map {
            try #require(try JSONSerialization.jsonObject(with: Data($0.utf8)) as? [String: Any])
        }
        #expect(runRows.count == 2)
        for row in runRows {
            #expect(row["job"] as? String == "s" && row["status"] as? String == "succeeded")
            #expect(["w1", "w2"].contains(row["worker"] as? String ?? "") && row["token"] is NSNumber && row["run"] is String)
            #expect(row["stderrTail"] as? String == "oops\n")
        }
        #expect(Set(runRows.compactMap { $0["stdoutTail"] as? String }) == ["out 0\n", "out 1\n"])
        // Each command's COORD_RUN_ID, COORD_WORKER_ID and COORD_FENCING_TOKEN are its run's, as coord runs shows them.
        let seen = Set(lines.filter { $0[0] == "s" && $0.count == 6 }.map { "\($0[4]) \($0[5]) \($0[1])" })
        let shown = Set(runRows.map { "\($0["run"] as? String ?? "?") \($0["worker"] as? String ?? "?") \(($0["token"] as? NSNumber)?.int64Value ?? -1)" })
        #expect(seen == shown, "the commands saw \(seen); coord runs shows \(shown)")
        let listed = try await coord.run(["--store", url, "jobs", "--json"])
        #expect(listed.status == 0)
        #expect(listed.stdoutText.split(separator: "\n").count == 5)
        let states = listed.stdoutText.split(separator: "\n").compactMap {
            (try? JSONSerialization.jsonObject(with: Data($0.utf8)) as? [String: Any])?["state"] as? String
        }
        #expect(states == Array(repeating: "finished", count: 5), "one-shot jobs with no run left are finished")
        let live = try await coord.run(["--store", url, "workers", "--json"])
        let liveIDs = live.stdoutText.split(separator: "\n").compactMap {
            (try? JSONSerialization.jsonObject(with: Data($0.utf8)) as? [String: Any])?["id"] as? String
        }
        #expect(Set(liveIDs) == ["w1", "w2"])

        // A graceful shutdown lets a running command finish: SIGTERM while `late` runs, which
        // waits for a gate file. Meanwhile its worker shows as draining, the other as active.
        let gate = coord.directory.appendingPathComponent("gate").path
        let late = try await coord.run([
            "--store", url, "job", "add", "late", "--command",
            "while [ ! -e '\(gate)' ]; do sleep 0.05; done; echo late >> '\(sink)'",
        ])
        #expect(late.status == 0 && late.stderr.isEmpty, "live workers can run it: no note; \(late.stderr)")
        try await Self.waitUntilRunning(job: "late", in: store, limit: .seconds(10))
        let lateRun = try await coord.run(["--store", url, "runs", "late", "--json"])
        let holder = try #require(
            (try JSONSerialization.jsonObject(with: Data(lateRun.stdoutText.utf8)) as? [String: Any])?["worker"] as? String)
        let (draining, other) = holder == "w1" ? (workers[0], workers[1]) : (workers[1], workers[0])
        draining.process.terminate()
        let members = SchedulerLayout().workers
        try await withDeadline("\(holder) to say it is draining", limit: .seconds(10)) {
            for try await event in store.watch(try members.child(holder)) {
                var records: [Key: Record] = [:]
                records.apply(event)
                if records.values.contains(where: { String(decoding: $0.value, as: UTF8.self).contains(#""draining":true"#) }) { return }
            }
        }
        let workerStates = try await coord.run(["--store", url, "workers", "--json"])
        let stateRows = workerStates.stdoutText.split(separator: "\n").compactMap {
            try? JSONSerialization.jsonObject(with: Data($0.utf8)) as? [String: Any]
        }
        #expect(
            Dictionary(uniqueKeysWithValues: stateRows.compactMap { row in (row["id"] as? String).map { ($0, row["draining"] as? Bool) } })
                == [holder: true, holder == "w1" ? "w2" : "w1": false], "\(workerStates.stdoutText)")
        let table = try await coord.run(["--store", url, "workers"])
        let drainingRow = table.stdoutText.split(separator: "\n").first { $0.hasPrefix(holder) }.map(String.init) ?? ""
        #expect(drainingRow.contains("draining"), "\(table.stdoutText)")
        _ = try coord.write("", to: "gate")
        let statuses = [await draining.terminate(), await other.terminate()]
        #expect(statuses == [0, 0], "\(workers.map(\.stderr))")
        // At --log-level info a worker says what it claims and how each run ends (as its help
        // says), and a graceful stop is no failure.
        let logs = workers.map(\.stderr).joined()
        #expect(logs.contains("claimed") && logs.contains("run ended") && logs.contains("late"), "\(logs)")
        #expect(!logs.contains("CancellationError"), "\(logs)")
        let finished = try await coord.run(["--store", url, "runs", "late", "--json"])
        #expect(finished.stdoutText.contains(#""status":"succeeded""#), "\(finished.stdoutText)")
        #expect(try String(contentsOfFile: sink, encoding: .utf8).contains("late\n"))
        await handles.closeAll()
    }

    /// The note said its runs would wait for a worker that can: a broadcast's runs are made for
    /// the workers live when it fires, so this one has none, and none joining later runs it.
    @Test("job add and job trigger say that a broadcast no live worker can run ran nowhere", arguments: servers)
    func broadcastToNobody(backend: TestBackend) async throws {
        let handles = try TestHandles(backend)
        let coord = try CoordProcess()
        defer { coord.removeDirectory() }
        let url = try #require(backend.url(handles.namespace, ttl: handles.ttl))
        let added = try await coord.run(["--store", url, "job", "add", "everyone", "--command", "true", "--strategy", "broadcast"])
        #expect(added.status == 0, "\(added.stderr)")
        #expect(
            added.stderrLines.count == 1 && added.stderr.hasPrefix("coord: note: no live worker can run broadcast everyone (handler 'shell'): "),
            "\(added.stderr)")
        let runs = try await coord.run(["--store", url, "runs", "everyone", "--json"])
        #expect(runs.status == 0 && !runs.stdoutText.contains(#""status":"pending""#), "no run waits: \(runs.stdoutText)")
        // A trigger makes no run either, and says so rather than printing nothing.
        let triggered = try await coord.run(["--store", url, "job", "trigger", "everyone"])
        #expect(triggered.status == 0 && triggered.stdoutText.isEmpty, "\(triggered.stdoutText) \(triggered.stderr)")
        #expect(
            triggered.stderrLines.count == 1
                && triggered.stderr.hasPrefix("coord: note: no live worker can run broadcast everyone: this trigger ran nowhere"),
            "\(triggered.stderr)")
        await handles.closeAll()
    }

    @Test("job pause, resume, trigger, cancel, show and rm act on the stored job", arguments: servers)
    func jobControl(backend: TestBackend) async throws {
        let handles = try TestHandles(backend)
        let coord = try CoordProcess()
        defer { coord.removeDirectory() }
        let url = try #require(backend.url(handles.namespace, ttl: handles.ttl))
        func coordRun(_ arguments: [String]) async throws -> CoordProcess.Result {
            try await coord.run(["--store", url] + arguments)
        }
        func state() async throws -> String? {
            let listed = try await coordRun(["jobs", "--json"])
            let line = try #require(listed.stdoutText.split(separator: "\n").first)
            return (try JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any])?["state"] as? String
        }
        #expect(try await coordRun(["job", "add", "hourly", "--command", "true", "--every", "1h"]).status == 0)
        #expect(try await coordRun(["job", "add", "hourly", "--command", "true"]).status == 3)
        #expect(try await coordRun(["job", "pause", "hourly"]).status == 0)
        #expect(try await state() == "paused")
        // Twice: the same, said so on stderr (it used to say nothing either way).
        let pausedAgain = try await coordRun(["job", "pause", "hourly"])
        #expect(pausedAgain.status == 0 && pausedAgain.stderrLines == ["coord: note: hourly was already paused"], "\(pausedAgain.stderr)")
        #expect(try await coordRun(["job", "resume", "hourly"]).status == 0)
        #expect(try await state() == "active")
        let resumedAgain = try await coordRun(["job", "resume", "hourly"])
        #expect(resumedAgain.status == 0 && resumedAgain.stderrLines == ["coord: note: hourly was not paused"], "\(resumedAgain.stderr)")

        let triggered = try await coordRun(["job", "trigger", "hourly"])
        let run = triggered.stdoutText.trimmingCharacters(in: .whitespacesAndNewlines)
        #expect(triggered.status == 0 && !run.isEmpty)
        let pending = try await coordRun(["runs", "hourly", "--json"])
        #expect(pending.stdoutText.contains(#""run":"\#(run)""#) && pending.stdoutText.contains(#""status":"pending""#))
        let cancel = try await coordRun(["job", "cancel", "hourly"])
        #expect(cancel.status == 0 && cancel.stdoutText == "hourly: removed 1 run pending\n", "\(cancel.stdoutText)")
        let cancelled = try await coordRun(["runs", "hourly", "--json"])
        #expect(cancelled.stdoutText.split(separator: "\n").count == 1 && cancelled.stdoutText.contains(#""status":"cancelled""#))
        let again = try await coordRun(["job", "cancel", "hourly"])
        // A note, on stderr as pause's and resume's: stdout stays what was done, for scripts.
        #expect(
            again.status == 0 && again.stdoutText.isEmpty
                && again.stderrLines == ["coord: note: hourly has no active run: nothing to cancel"],
            "\(again.stdoutText) \(again.stderr)")
        // A paused job's triggered run waits; the trigger says so.
        #expect(try await coordRun(["job", "pause", "hourly"]).status == 0)
        let whilePaused = try await coordRun(["job", "trigger", "hourly"])
        #expect(whilePaused.status == 0 && !whilePaused.stdoutText.isEmpty)
        #expect(whilePaused.stderrLines == ["coord: note: hourly is paused: its new runs wait until coord job resume hourly"])
        #expect(try await coordRun(["job", "resume", "hourly"]).status == 0)

        let shown = try await coordRun(["job", "show", "hourly"])
        #expect(shown.status == 0 && shown.stdoutText.contains("every 1h"))
        #expect(shown.stdoutText.split(separator: "\n").contains { $0.hasPrefix("misfire:") && $0.hasSuffix(" fire-once-now") }, "\(shown.stdoutText)")
        // A one-shot job has no misfire policy to show (it used to show the default).
        #expect(try await coordRun(["job", "add", "once-only", "--command", "true"]).status == 0)
        let shownOnce = try await coordRun(["job", "show", "once-only"])
        #expect(shownOnce.stdoutText.split(separator: "\n").contains { $0.hasPrefix("misfire:") && $0.hasSuffix(" -") }, "\(shownOnce.stdoutText)")
        #expect(try await coordRun(["job", "rm", "once-only"]).status == 0)
        // --json: the spec as a jobs file gives it; the state's times in ISO 8601 like nextFire's.
        let shownJSON = try await coordRun(["job", "show", "hourly", "--json"])
        let object = try #require(try JSONSerialization.jsonObject(with: Data(shownJSON.stdout)) as? [String: Any])
        let state = try #require(object["state"] as? [String: Any])
        // No worker runs here, so no leader has settled the resume: which fire times were paused
        // is the leader's to say, on its own clock.
        #expect(state["lastMaterialized"] == nil, "\(shownJSON.stdoutText)")
        for time in [state["submittedAt"], state["resumedAt"], object["nextFire"]] {
            #expect((time as? String).map { ISO8601DateFormatter.withFractionalSeconds.date(from: $0) != nil } == true, "\(shownJSON.stdoutText)")
        }
        #expect((object["spec"] as? [String: Any])?["id"] as? String == "hourly")
        #expect(try await coordRun(["job", "rm", "hourly"]).status == 0)
        let gone = try await coordRun(["job", "show", "hourly"])
        #expect(gone.status == 2 && gone.stderrLines == ["coord: no job hourly; coord jobs lists the jobs there are"])
        // Every command on one job names a missing one alike (those the scheduler refused used to say only "no job ID").
        for command in [["job", "pause"], ["job", "resume"], ["job", "trigger"], ["job", "cancel"], ["runs"]] {
            let missing = try await coordRun(command + ["hourly"])
            #expect(missing.status == 2 && missing.stderrLines == ["coord: no job hourly; coord jobs lists the jobs there are"], "\(command): \(missing.stderr)")
        }
        await handles.closeAll()
    }

    @Test("a jobs file whose ids exist in part adds nothing, names them all, and job rm takes several ids", arguments: servers)
    func jobsFileAllOrNothing(backend: TestBackend) async throws {
        let handles = try TestHandles(backend)
        let coord = try CoordProcess()
        defer { coord.removeDirectory() }
        let url = try #require(backend.url(handles.namespace, ttl: handles.ttl))
        func coordRun(_ arguments: [String]) async throws -> CoordProcess.Result {
            try await coord.run(["--store", url] + arguments)
        }
        func jobIDs() async throws -> [String] {
            try await coordRun(["jobs", "--json"]).stdoutText.split(separator: "\n").compactMap {
                (try JSONSerialization.jsonObject(with: Data($0.utf8)) as? [String: Any])?["id"] as? String
            }.sorted()
        }
        #expect(try await coordRun(["job", "add", "tick", "--command", "true", "--every", "1h"]).status == 0)
        #expect(try await coordRun(["job", "add", "tock", "--command", "true", "--every", "1h"]).status == 0)
        let file = try coord.write(
            #"[{"id": "n1", "command": "true"}, {"id": "tick", "command": "true"}, {"id": "n3", "command": "true"}, {"id": "tock", "command": "true"}]"#,
            to: "jobs.json")
        let added = try await coordRun(["job", "add", "--file", file])
        #expect(added.status == 3)
        #expect(added.stdout.isEmpty)
        #expect(
            added.stderrLines == ["coord: jobs tick, tock exist already, so no job was added; remove them first (coord job rm tick tock) or give the new jobs other ids"],
            "\(added.stderr)")
        #expect(try await jobIDs() == ["tick", "tock"], "n1 and n3 not added")
        // coord run on a shared store submits through the same check, before any worker starts.
        let ran = try await coordRun(["run", file, "--until-idle", "--workers", "1"])
        #expect(ran.status == 3 && ran.stderr.contains("jobs tick, tock exist already"), "\(ran.stderr)")
        #expect(try await jobIDs() == ["tick", "tock"])

        // Several ids: each removed and reported; the missing one named, with status 2.
        let removed = try await coordRun(["job", "rm", "tick", "nope", "tock"])
        #expect(removed.status == 2)
        #expect(removed.stdoutText == "removed tick\nremoved tock\n")
        #expect(removed.stderrLines == ["coord: no job nope (the others were removed); coord jobs lists the jobs there are"])
        #expect(try await jobIDs() == [])
        let rerun = try await coordRun(["job", "add", "--file", file])
        #expect(rerun.status == 0, "\(rerun.stderr)")
        #expect(rerun.stdoutText == "added n1\nadded tick\nadded n3\nadded tock\n")
        let missing = try await coordRun(["job", "rm", "gone", "also-gone"])
        #expect(missing.status == 2 && missing.stdout.isEmpty)
        #expect(missing.stderrLines == ["coord: no jobs gone, also-gone; coord jobs lists the jobs there are"])
        await handles.closeAll()
    }

    @Test("coord runs and coord jobs say timed out in their tables; --json keeps the stored timedOut", arguments: servers)
    func timedOutInTablesAndJSON(backend: TestBackend) async throws {
        let handles = try TestHandles(backend)
        let coord = try CoordProcess()
        defer { coord.removeDirectory() }
        let url = try #require(backend.url(handles.namespace, ttl: handles.ttl))
        func coordRun(_ arguments: [String]) async throws -> CoordProcess.Result {
            try await coord.run(["--store", url] + arguments)
        }
        let file = try coord.write(#"[{"id": "slow", "command": "sleep 5", "timeoutMs": 200}]"#, to: "jobs.json")
        let ran = try await coordRun(["run", file, "--until-idle", "--workers", "1"])
        #expect(ran.status == 13, "\(ran.stderr)")

        let table = try await coordRun(["runs", "slow"])
        let header = SchedulerCommandTests.cells(try #require(table.stdoutText.split(separator: "\n").first.map(String.init)))
        let row = SchedulerCommandTests.cells(try #require(table.stdoutText.split(separator: "\n").dropFirst().first.map(String.init)))
        #expect(Dictionary(uniqueKeysWithValues: zip(header, row))["STATUS"] == "timed out", "\(table.stdoutText)")
        let runs = try await coordRun(["runs", "slow", "--json"])
        #expect(runs.stdoutText.contains(#""status":"timedOut""#), "\(runs.stdoutText)")

        let jobs = try await coordRun(["jobs"])
        #expect(jobs.stdoutText.split(separator: "\n").last?.hasSuffix("  timed out") == true, "\(jobs.stdoutText)")
        let jobsJSON = try await coordRun(["jobs", "--json"])
        #expect(jobsJSON.stdoutText.contains(#""lastOutcome":"timedOut""#), "\(jobsJSON.stdoutText)")
        await handles.closeAll()
    }

    /// Fencing protects only what checks the token: a command left running by a dead worker
    /// would run beside the attempt that takes its run over.
    @Test("a worker killed with SIGKILL takes its running command, and what that started, with it", arguments: servers)
    func killedWorkerTakesItsCommandWithIt(backend: TestBackend) async throws {
        try await killedWorkerTakesItsCommandWithIt(backend: backend, loader: nil)
    }

    /// Started through the dynamic loader, the worker's `/proc/self/exe` is the loader, which
    /// cannot be the command's watchdog: the command must still die with its worker.
    @Test("a worker started through the dynamic loader, killed with SIGKILL, takes its command with it", arguments: servers)
    func killedWorkerStartedThroughTheLoaderTakesItsCommandWithIt(backend: TestBackend) async throws {
        let loaders = ["/lib64/ld-linux-x86-64.so.2", "/lib/ld-linux-aarch64.so.1"]
        let loader = try #require(loaders.first { FileManager.default.isExecutableFile(atPath: $0) }, "no dynamic loader at \(loaders)")
        try await killedWorkerTakesItsCommandWithIt(backend: backend, loader: loader)
    }

    func killedWorkerTakesItsCommandWithIt(backend: TestBackend, loader: String?) async throws {
        let handles = try TestHandles(backend)
        let coord = try CoordProcess()
        defer { coord.removeDirectory() }
        let url = try #require(backend.url(handles.namespace, ttl: handles.ttl))
        // The command tells its shell's and its child's process ids through a FIFO, whose reader
        // waits until they are written: the command runs from then on.
        let fifo = coord.directory.appendingPathComponent("pids").path
        #expect(mkfifo(fifo, 0o600) == 0)
        let added = try await coord.run(["--store", url, "job", "add", "long", "--command", "sleep 60 & echo \"$$ $!\" > '\(fifo)'; wait"])
        #expect(added.status == 0, "\(added.stderr)")
        let worker = try await Background(coord, ["--store", url, "worker", "--id", "doomed"], name: "doomed", loader: loader)
        let pids = try await withDeadline("the command to start") { try await readLine(fromFIFO: fifo) }
            .split(separator: " ").compactMap { pid_t($0) }
        #expect(pids.count == 2, "\(pids)")
        #expect(pids.allSatisfy { !Self.hasEnded($0) })

        kill(worker.process.processIdentifier, SIGKILL)
        _ = await worker.terminate()
        // Not our children, so no event tells of their end: /proc is read until they are gone (or
        // zombies nobody reaps), for at most five seconds.
        let clock = ContinuousClock()
        let deadline = clock.now + .seconds(5)
        while !pids.allSatisfy(Self.hasEnded) && clock.now < deadline { try await Task.sleep(for: .milliseconds(20)) }
        #expect(pids.allSatisfy(Self.hasEnded), "still running after their worker was killed: \(pids.filter { !Self.hasEnded($0) })")
        for pid in pids where !Self.hasEnded(pid) { kill(pid, SIGKILL) }
        await handles.closeAll()
    }

    /// A worker stopped (SIGSTOP, a debugger) cannot stop its command, and its run is taken over
    /// once its session expires: the command's watchdog kills it first, half a TTL after the
    /// worker's last beat. Each attempt's command looks, as it starts, whether the processes of
    /// the attempt before still run; before the watchdog, they always did.
    @Test("a worker stopped with SIGSTOP has its command killed before its run is taken over", arguments: servers)
    func stoppedWorkersCommandIsGoneBeforeTheTakeover(backend: TestBackend) async throws {
        let handles = try TestHandles(backend, ttl: .seconds(2))
        let coord = try CoordProcess()
        defer { coord.removeDirectory() }
        let url = try #require(backend.url(handles.namespace, ttl: handles.ttl))
        let fifo = coord.directory.appendingPathComponent("pids").path
        let previous = coord.directory.appendingPathComponent("previous").path
        #expect(mkfifo(fifo, 0o600) == 0)
        // Writes "<shell> <sleep>:<ids of the previous attempt's processes that still run>".
        let command = """
            alive=; for p in $(cat '\(previous)' 2>/dev/null); do \
            s=$(sed -n 's/^State:[[:space:]]*//p' /proc/$p/status 2>/dev/null | cut -c1); \
            case "$s" in ''|Z|X) ;; *) alive="$alive $p";; esac; done; \
            sleep 60 & echo "$$ $!" > '\(previous)'; echo "$$ $!:$alive" > '\(fifo)'; wait
            """
        let added = try await coord.run(["--store", url, "job", "add", "long", "--command", command, "--retries", "2"])
        #expect(added.status == 0, "\(added.stderr)")
        let stopped = try await Background(coord, ["--store", url, "worker", "--id", "stopped"], name: "stopped")
        let first = try await withDeadline("the first attempt to start") { try await readLine(fromFIFO: fifo) }
        let firstPids = first.prefix { $0 != ":" }.split(separator: " ").compactMap { pid_t($0) }
        #expect(firstPids.count == 2, "\(first)")
        let taker = try await Background(coord, ["--store", url, "worker", "--id", "taker"], name: "taker")
        kill(stopped.process.processIdentifier, SIGSTOP)
        let second = try await withDeadline("the run to be taken over", limit: .seconds(30)) { try await readLine(fromFIFO: fifo) }
        #expect(second.hasSuffix(":"), "the stopped worker's command still ran when its run was taken over: \(second)")
        #expect(firstPids.allSatisfy(Self.hasEnded))
        // Killed, not stopped: the taker's command dies with it (its lifeline), and the
        // stopped worker has nothing left to do.
        for worker in [stopped, taker] {
            kill(worker.process.processIdentifier, SIGKILL)
            _ = await worker.terminate()
        }
        await handles.closeAll()
    }

    /// Whether the process `pid` is gone, or a zombie (ended, not reaped).
    static func hasEnded(_ pid: pid_t) -> Bool {
        guard let stat = try? String(contentsOfFile: "/proc/\(pid)/stat", encoding: .utf8) else { return true }
        // "pid (name) state …": the state follows the last parenthesis.
        guard let close = stat.lastIndex(of: ")") else { return true }
        return stat[stat.index(after: close)...].trimmingCharacters(in: .whitespaces).hasPrefix("Z")
    }
}

extension ISO8601DateFormatter {
    /// Reads what coord's --json outputs write: ISO 8601 with milliseconds.
    static var withFractionalSeconds: ISO8601DateFormatter {
        let formatter = ISO8601DateFormatter()
        formatter.formatOptions = [.withInternetDateTime, .withFractionalSeconds]
        return formatter
    }
}
