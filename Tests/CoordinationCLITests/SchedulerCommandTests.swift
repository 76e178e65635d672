import Foundation
import CoordinationScheduler
import Testing
@testable import CoordinationCLI

/// `coord run`, `coord job add` and the scheduler's `--json` on the embedded store: each `coord`
/// process has a store of its own, so each test is about one invocation.
@Suite("coord scheduler commands on the embedded store")
struct SchedulerCommandTests {
    /// The rows of the summary table `coord run` prints last, by job id: column name → value.
    static func summary(_ output: String) -> [String: [String: String]] {
        let lines = output.split(separator: "\n", omittingEmptySubsequences: false).map(String.init)
        guard let start = lines.firstIndex(of: "summary:"), start + 1 < lines.count else { return [:] }
        let header = cells(lines[start + 1])
        var rows: [String: [String: String]] = [:]
        // The table ends at the first empty line.
        for line in lines[(start + 2)...].prefix(while: { !$0.isEmpty }) {
            let cells = cells(line)
            guard let id = cells.first, cells.count == header.count else { continue }
            rows[id] = Dictionary(uniqueKeysWithValues: zip(header, cells))
        }
        return rows
    }

    /// A table line's cells: columns are two spaces apart at least, while a cell holds single
    /// spaces at most (`TIMED OUT`, `cron */2 * * * * *`).
    static func cells(_ line: String) -> [String] {
        line.components(separatedBy: "  ").map { $0.trimmingCharacters(in: .whitespaces) }.filter { !$0.isEmpty }
    }

    @Test("coord run --until-idle runs the built-in examples with their expected outcomes, and exits 0: the attempts that failed or timed out were made good by retries")
    func runExamples() async throws {
        let coord = try CoordProcess()
        defer { coord.removeDirectory() }
        let result = try await coord.run(["run", "--until-idle"])
        #expect(result.status == 0, "\(result.stderr)")
        #expect(result.stderr.isEmpty, "\(result.stderr)")
        let rows = Self.summary(result.stdoutText)
        #expect(Set(rows.keys) == ["hello", "resize", "tick", "flaky", "slow"], "\(result.stdoutText)")
        #expect(rows["hello"]?["SUCCEEDED"] == "1")
        #expect(rows["resize"]?["SUCCEEDED"] == "4")
        #expect(Int(rows["tick"]?["SUCCEEDED"] ?? "") ?? 0 >= 2)
        #expect(rows["flaky"]?["FAILED"] == "1" && rows["flaky"]?["SUCCEEDED"] == "1")
        #expect(rows["slow"]?["TIMED OUT"] == "1" && rows["slow"]?["SUCCEEDED"] == "1", "\(result.stdoutText)")
        // Human text says "timed out", as the live table's header does; only --json keeps the stored `timedOut`.
        #expect(!result.stdoutText.contains("timedOut") && !result.stdoutText.contains("TIMEDOUT"), "\(result.stdoutText)")
        #expect(result.stdoutText.contains(" slow/r-") && result.stdoutText.contains(" timed out on worker-"), "\(result.stdoutText)")
        for (id, row) in rows where id != "tick" { #expect(row["ACTIVE"] == "0", "\(id)") }
        // Not a terminal: one plain line per event, among them the retry's (after a 200 ms back-off,
        // so well after the live view has started).
        let flakyLines = result.stdoutText.split(separator: "\n").filter { $0.contains(" flaky/") }
        #expect(flakyLines.contains { $0.contains("(attempt 2") }, "\(flakyLines)")
    }

    @Test("coord run --example prints a jobs file that coord run FILE --until-idle accepts")
    func exampleFile() async throws {
        let coord = try CoordProcess()
        defer { coord.removeDirectory() }
        let printed = try await coord.run(["run", "--example"])
        #expect(printed.status == 0)
        let jobs = try #require(try JSONSerialization.jsonObject(with: Data(printed.stdout)) as? [[String: Any]])
        #expect(jobs.compactMap { $0["id"] as? String } == ["hello", "resize", "tick", "flaky", "slow"])
        // Without the recurring job (which needs two fire times) the run takes about a second.
        let oneShots = jobs.filter { ($0["schedule"] as? [String: Any])?["kind"] as? String == "once" }
        let file = try coord.write(
            String(decoding: try JSONSerialization.data(withJSONObject: oneShots), as: UTF8.self), to: "jobs.json")
        let result = try await coord.run(["run", file, "--until-idle", "--workers", "2"])
        #expect(result.status == 0, "slow's retry finishes in time: \(result.stderr)")
        let rows = Self.summary(result.stdoutText)
        #expect(Set(rows.keys) == ["hello", "resize", "flaky", "slow"])
        #expect(rows["resize"]?["SUCCEEDED"] == "4")
    }

    @Test("coord run --until-idle exits 0 when every run succeeded, a retry included, and 13 naming each run that failed or timed out")
    func untilIdleStatus() async throws {
        let coord = try CoordProcess()
        defer { coord.removeDirectory() }
        let retried = #"if [ "$COORD_ATTEMPT" = 1 ]; then exit 1; fi"#
        let good = try coord.write(
            String(decoding: try JSONSerialization.data(withJSONObject: [
                ["id": "ok", "command": "true"],
                ["id": "retried", "command": retried, "retry": ["maxRetries": 1, "backoffBaseMs": 10, "backoffCapMs": 10]],
            ]), as: UTF8.self), to: "good.json")
        let succeeded = try await coord.run(["run", good, "--until-idle"])
        #expect(succeeded.status == 0, "\(succeeded.stderr)")
        #expect(succeeded.stderr == "")
        #expect(Self.summary(succeeded.stdoutText)["retried"]?["FAILED"] == "1", "\(succeeded.stdoutText)")

        let bad = try coord.write(
            String(decoding: try JSONSerialization.data(withJSONObject: [
                ["id": "ok", "command": "true"],
                ["id": "broken", "command": "exit 3"],
                ["id": "late", "command": "sleep 5", "timeoutMs": 200],
            ]), as: UTF8.self), to: "bad.json")
        let failed = try await coord.run(["run", bad, "--until-idle"])
        #expect(failed.status == 13, "\(failed.stderr)")
        let line = try #require(failed.stderrLines.first)
        #expect(failed.stderrLines.count == 1, "\(failed.stderr)")
        #expect(line.hasPrefix("coord: 2 runs did not succeed: broken/r-"), "\(line)")
        #expect(line.contains(" (failed), late/r-") && line.hasSuffix(" (timed out)"), "\(line)")
    }

    @Test("coord run --until-idle says at the start which far fire times it waits for")
    func untilIdleNotesDistantWaits() async throws {
        let coord = try CoordProcess()
        defer { coord.removeDirectory() }
        let file = try coord.write(
            String(decoding: try JSONSerialization.data(withJSONObject: [
                ["id": "leap", "command": "true", "schedule": ["kind": "cron", "cron": "0 0 0 29 2 *"]],
                ["id": "later", "command": "true", "schedule": ["kind": "once", "at": 1_893_456_000_000]],
                ["id": "soon", "command": "true", "schedule": ["kind": "every", "everyMs": 1000]],
                ["id": "now", "command": "true"],
            ]), as: UTF8.self), to: "jobs.json")
        let run = try await RunInterruptTests.LiveCoord(coord, ["run", file, "--until-idle"])
        let leap = try await run.line(containing: "leap")
        let later = try await run.line(containing: "later")
        kill(run.process.processIdentifier, SIGINT)
        let (status, _, _) = await run.exit()
        #expect(status == 130, "\(run.stderrText)")
        // The next 29th of February at midnight after the first: two leap years from now at most.
        #expect(leap.hasPrefix("coord: note: --until-idle waits for leap to fire twice, the second time at 20"), "\(leap)")
        #expect(leap.contains("-02-29T00:00:00Z (Ctrl-C stops)"), "\(leap)")
        #expect(later == "coord: note: --until-idle waits for later, due at 2030-01-01T00:00:00Z (Ctrl-C stops)")
        #expect(!run.stderrText.contains("soon") && !run.stderrText.contains("for now"), "\(run.stderrText)")
    }

    @Test("a jobs file with a mistake is refused with one line naming the job and the field")
    func badJobsFile() async throws {
        let coord = try CoordProcess()
        defer { coord.removeDirectory() }
        let file = try coord.write(#"[{"id": "x", "command": "true", "shards": 0}]"#, to: "bad.json")
        let result = try await coord.run(["run", file, "--until-idle"])
        #expect(result.status == 7)
        #expect(result.stderrLines.count == 1)
        #expect(result.stderr.contains("job x") && result.stderr.contains("shards"), "\(result.stderr)")
    }

    @Test("a jobs file that cannot be read says why; - reads standard input")
    func unreadableJobsFile() async throws {
        let coord = try CoordProcess()
        defer { coord.removeDirectory() }
        let missing = try await coord.run(["run", "nope.json"])
        #expect(missing.status == 7 && missing.stderrLines == ["coord: cannot read jobs file nope.json: no such file"], "\(missing.stderr)")
        let directory = try await coord.run(["job", "add", "--file", coord.directory.path])
        #expect(directory.status == 7 && directory.stderr.contains("it is a directory"), "\(directory.stderr)")
        let piped = try await coord.run(["run", "-", "--until-idle"], input: Array(#"[{"id": "piped", "command": "true"}]"#.utf8))
        #expect(piped.status == 0, "\(piped.stderr)")
        #expect(Self.summary(piped.stdoutText)["piped"]?["SUCCEEDED"] == "1", "\(piped.stdoutText)")
    }

    @Test("coord run refuses on memory:// a job its workers cannot run, rather than waiting forever")
    func unrunnableJob() async throws {
        let coord = try CoordProcess()
        defer { coord.removeDirectory() }
        let file = try coord.write(
            #"[{"id": "ok", "command": "true"}, {"id": "mine", "handler": "nosuch"}, {"id": "zoned", "command": "true", "requiredLabels": {"zone": "a"}}]"#,
            to: "jobs.json")
        let result = try await coord.run(["run", file, "--until-idle"])
        #expect(result.status == 7)
        #expect(result.stderrLines.count == 1, "\(result.stderr)")
        #expect(
            result.stderr.contains("mine (handler 'nosuch')") && result.stderr.contains("zoned (handler 'shell', labels zone=a)")
                && !result.stderr.contains("ok ("), "\(result.stderr)")
    }

    /// It added its jobs before its workers had joined: the broadcast reached none of them, and
    /// --until-idle waited for it for ever.
    @Test("coord run runs a one-shot broadcast on each of its own workers")
    func broadcastOnItsWorkers() async throws {
        let coord = try CoordProcess()
        defer { coord.removeDirectory() }
        let file = try coord.write(
            #"[{"id": "everyone", "command": "true", "placement": "broadcast"}, {"id": "plain", "command": "true"}]"#, to: "jobs.json")
        let result = try await coord.run(["run", file, "--until-idle", "--workers", "2"], timeout: .seconds(20))
        #expect(result.status == 0, "\(result.stderr)")
        let summary = Self.summary(result.stdoutText)
        #expect(summary["everyone"]?["SUCCEEDED"] == "2" && summary["plain"]?["SUCCEEDED"] == "1", "\(result.stdoutText)")
    }

    @Test(
        "job add refuses a bad job before any I/O, with one line naming the problem",
        arguments: [
            (["--command", "true", "--cron", "61 * * * * *"], "cron"),
            (["--command", "true", "--shards", "0"], "shards"),
            (["--command", "true", "--strategy", "fastest"], "strategy"),
            (["--command", "true", "--handler", "mine"], "--handler"),
            (["--command", "true", "--every", "1s", "--at", "+5s"], "--at"),
            (["--command", "true", "--timeout", "soon"], "--timeout"),
            (["--command", "true", "--overlap", "never"], "overlap"),
            (["--command", "true", "--misfire", "later"], "known: fire-once-now, skip"),
            (["--command", ""], "--command is empty"),
            (["--command", "  "], "--command is empty"),
            (["--command", "true", "--cron", "0 0 0 31 2 *"], "never fires"),
            (["--command", "true", "--cron", "CRON_TZ=Europe/Pariss 0 0 3 * * *"], "names the time zone 'Europe/Pariss'"),
        ])
    func invalidJob(flags: [String], problem: String) async throws {
        let coord = try CoordProcess()
        defer { coord.removeDirectory() }
        // An unreachable store: the command must fail on the job, not on the connection.
        let result = try await coord.run(["--store", "etcd://127.0.0.1:9/none", "job", "add", "j"] + flags)
        #expect(result.status != 0)
        #expect(result.stderrLines.count == 1, "\(result.stderr)")
        #expect(result.stderr.hasPrefix("coord: ") && result.stderr.contains(problem), "\(result.stderr)")
        #expect(result.stdout.isEmpty)
    }

    @Test("coord jobs --help names every state the table shows")
    func jobsHelpStates() async throws {
        let coord = try CoordProcess()
        defer { coord.removeDirectory() }
        let help = try await coord.run(["jobs", "--help"])
        #expect(help.status == 0)
        let text = help.stdoutText.split(whereSeparator: \.isWhitespace).joined(separator: " ")
        #expect(text.contains("STATE is active, paused, or finished"), "\(help.stdoutText)")
        #expect(!text.contains("(active or paused)"), "\(help.stdoutText)")
    }

    @Test("a jobs file with a field coord does not know adds nothing and names the field and what to write")
    func unknownFieldInJobsFile() async throws {
        let coord = try CoordProcess()
        defer { coord.removeDirectory() }
        let file = try coord.write(#"[{"id": "a", "command": "true", "strategy": "random"}]"#, to: "jobs.json")
        for arguments in [["job", "add", "--file", file], ["run", file, "--until-idle"]] {
            let result = try await coord.run(arguments)
            #expect(result.status == 7)
            #expect(result.stderrLines.count == 1, "\(result.stderr)")
            #expect(result.stderr.contains(#"job a: unknown field "strategy" (use "placement""#), "\(result.stderr)")
            #expect(result.stdout.isEmpty)
        }
    }

    @Test("job rm takes several ids and names every one that does not exist, with status 2")
    func removeMissingJobs() async throws {
        let coord = try CoordProcess()
        defer { coord.removeDirectory() }
        // On memory:// the one line of failure ends with the note that the store was empty.
        let one = try await coord.run(["job", "rm", "gone"])
        #expect(one.status == 2 && one.stdout.isEmpty)
        #expect(one.stderrLines.count == 1 && one.stderr.hasPrefix("coord: no job gone; coord jobs lists the jobs there are (note: memory://"))
        let several = try await coord.run(["job", "rm", "gone", "also-gone", "gone"])
        #expect(several.status == 2 && several.stdout.isEmpty)
        #expect(
            several.stderrLines.count == 1
                && several.stderr.hasPrefix("coord: no jobs gone, also-gone; coord jobs lists the jobs there are (note: memory://"))
    }

    /// Counted in characters, a wide id (two columns each) pushed its row's later cells right.
    @Test("table columns line up on screen with wide (CJK) ids and combining marks as with ASCII ones")
    func tableAlignsWideText() {
        let lines = SchedulerTables.render(["ID", "STATE", "LAST"], [["日次集計", "active", "-"], ["nightly-backup", "paused", "-"], ["cafe\u{301}", "active", "-"]])
        let stateColumns = lines.map { line -> Int? in
            guard let range = line.range(of: "STATE") ?? line.range(of: "active") ?? line.range(of: "paused") else { return nil }
            return DisplayWidth.columns(String(line[..<range.lowerBound]))
        }
        #expect(Set(stateColumns) == [16], "\(lines)")
        #expect(DisplayWidth.columns("日次集計") == 8 && DisplayWidth.columns("cafe\u{301}") == 4)
    }

    @Test("a job no worker can run is named with the handler and labels it needs")
    func unrunnableJobs() {
        let shellOnly = WorkerInfo(capacity: 1, weight: 1, labels: ["zone": "us"], handlers: ["shell"])
        let specs = [
            JobSpec(id: "plain", handler: "shell"), JobSpec(id: "report", handler: "report"),
            JobSpec(id: "eu", handler: "shell", requiredLabels: ["zone": "eu", "disk": "ssd"]),
        ]
        #expect(NewJobs.unrunnable(specs, by: [shellOnly]) == "report (handler 'report'); eu (handler 'shell', labels disk=ssd,zone=eu)")
        #expect(NewJobs.unrunnable([specs[0]], by: [shellOnly]) == nil)
        #expect(NewJobs.unrunnable([specs[0]], by: []) == "plain (handler 'shell')")
    }

    @Test("on memory:// the commands about shared jobs say that the store lives and dies with them; coord run does not")
    func memoryStoreNote() async throws {
        let coord = try CoordProcess()
        defer { coord.removeDirectory() }
        let note = "coord: note: " + CommandContext.memoryNote
        let added = try await coord.run(["job", "add", "x", "--command", "true"])
        #expect(added.status == 0 && added.stdoutText == "added x\n")
        #expect(added.stderrLines == [note], "\(added.stderr)")
        for arguments in [["jobs"], ["jobs", "--json"], ["workers"], ["job", "trigger", "x"] ] {
            let result = try await coord.run(["--store", "memory://"] + arguments)
            if arguments.first == "job" {
                // A failure: the note joins its one line.
                #expect(
                    result.status == 2
                        && result.stderrLines == ["coord: no job x; coord jobs lists the jobs there are (note: \(CommandContext.memoryNote))"],
                    "\(result.stderr)")
            } else {
                #expect(result.status == 0 && result.stderrLines.last == note, "\(arguments): \(result.stderr)")
            }
        }
        // A worker would wait forever for jobs no other process can add: it says so as it starts.
        let worker = try await RunInterruptTests.LiveCoord(coord, ["worker"])
        let line = try await worker.line(containing: "memory://")
        #expect(line.hasPrefix("coord: note: memory:// lives in this coord process only, so no job added elsewhere can reach this worker"))
        // Its exit is not the point (a SIGTERM this early could come before its handler).
        kill(worker.process.processIdentifier, SIGKILL)
        _ = await worker.exit()
        // coord run is the command for memory://: no note.
        let file = try coord.write(#"[{"id": "a", "command": "true"}]"#, to: "jobs.json")
        let run = try await coord.run(["run", file, "--until-idle", "--workers", "1"])
        #expect(run.status == 0 && run.stderr == "", "\(run.stderr)")
    }

    @Test("worker refuses a bad --keep-finished before any I/O, with one line naming the option")
    func invalidRetention() async throws {
        let coord = try CoordProcess()
        defer { coord.removeDirectory() }
        let result = try await coord.run(["--store", "etcd://127.0.0.1:9/none", "worker", "--keep-finished", "always"])
        #expect(result.status != 0)
        #expect(result.stderrLines.count == 1, "\(result.stderr)")
        #expect(result.stderr.contains("--keep-finished always") && result.stderr.contains("'forever'"), "\(result.stderr)")
    }

    @Test("job add --json prints the submitted job in the scheduler's JSON format")
    func jobAddJSON() async throws {
        let coord = try CoordProcess()
        defer { coord.removeDirectory() }
        let result = try await coord.run([
            "job", "add", "nightly", "--command", "make backup", "--cron", "0 0 3 * * *", "--retries", "2", "--strategy",
            "least-loaded", "--labels", "zone=a", "--json",
        ])
        #expect(result.status == 0, "\(result.stderr)")
        let lines = result.stdoutText.split(separator: "\n")
        #expect(lines.count == 1)
        let object = try #require(try JSONSerialization.jsonObject(with: Data(lines[0].utf8)) as? [String: Any])
        #expect(object["id"] as? String == "nightly")
        #expect(object["handler"] as? String == "shell")
        #expect(object["placement"] as? String == "leastLoaded")
        #expect((object["schedule"] as? [String: Any])?["cron"] as? String == "0 0 3 * * *")
        #expect((object["retry"] as? [String: Any])?["maxRetries"] as? Int == 2)
        #expect((object["requiredLabels"] as? [String: String]) == ["zone": "a"])
        #expect(object["payload"] as? String == Data("make backup".utf8).base64EncodedString())
    }

    @Test("job add --file submits every job of a jobs file and refuses flags that define a job beside it")
    func jobAddFile() async throws {
        let coord = try CoordProcess()
        defer { coord.removeDirectory() }
        let file = try coord.write(
            #"[{"id": "a", "command": "true"}, {"id": "b", "handler": "mine", "schedule": {"kind": "every", "everyMs": 5000}}]"#,
            to: "jobs.json")
        let added = try await coord.run(["job", "add", "--file", file, "--json"])
        #expect(added.status == 0, "\(added.stderr)")
        let ids = added.stdoutText.split(separator: "\n").compactMap {
            (try? JSONSerialization.jsonObject(with: Data($0.utf8)) as? [String: Any])?["id"] as? String
        }
        #expect(ids == ["a", "b"])
        let mixed = try await coord.run(["job", "add", "--file", file, "--shards", "2"])
        #expect(mixed.status == 64)
        #expect(mixed.stderrLines.count == 1 && mixed.stderr.contains("--file"))
    }

    @Test(
        "job add refuses a bad value with status 64 before any I/O, naming the flag and what to write",
        arguments: [
            (["j", "--command", "true", "--at", "2027-02-30T12:00:00Z"], "--at 2027-02-30T12:00:00Z is not a time: February 2027 has no day 30"),
            (["j", "--command", "true", "--at", "2027-01-31T25:00:00Z"], "hour 25 is out of range (00-23)"),
            (["j", "--command", "true", "--at", "2027-01-31T12:00:60Z"], "second 60 is out of range (00-59"),
            (["j", "--command", "true", "--at", "+"], "--at +: give a duration after the '+', such as +30s or +10m"),
            (
                ["past1", "--command", "echo ran", "--at", "2020-01-01T00:00:00Z", "--misfire", "skip"],
                "--misfire applies to --cron and --every jobs only"
            ),
            (["j", "--command", "true", "--labels", "zone=a,zone=b"], "--labels: 'zone' is given twice (zone=a and zone=b)"),
            (
                ["j", "--command", "true", "--labels", "zone=a, disk=ssd"],
                "--labels: ' disk=ssd' has a space around its key or value, which would be part of the label; "
                    + "write key=value pairs without spaces, comma-separated ('disk=ssd')"
            ),
            (["j", "--command", "true", "--labels", "zone =a"], "--labels: 'zone =a' has a space around its key or value"),
            (
                ["j", "--command", "true", "--every", "1h30m"],
                "--every 1h30m is not a duration; write one number and one unit (ms, s, m, h or d; none is seconds), like 500ms, 30s, 90m or 1d (for 1h30m write 90m)"
            ),
            (["j", "--command", "true", "--every", "-5s"], "--every -5s is negative; write one number and one unit"),
            // Zero or less names the range, and that no --timeout is no limit, not only how durations are written.
            (
                ["j", "--command", "true", "--timeout", "-5s"],
                "coord: --timeout -5s is negative: give how long an attempt may run before it is stopped, more than 0, like 30s, 5m or 2h; leave --timeout out for no limit"
            ),
            (["j", "--command", "true", "--timeout=-1"], "--timeout -1 is negative: give how long an attempt may run before it is stopped, more than 0"),
            (["j", "--command", "true", "--timeout", "0s"], "--timeout 0s is not positive: give how long an attempt may run before it is stopped, more than 0"),
            (["j", "--command", "true", "--every", "99999999d"], "--every 99999999d is more than 100 years"),
            (["j", "--command", "true", "--every", "1e3"], "--every 1e3 is not a duration; write one number and one unit (ms, s, m, h or d; none is seconds), like 500ms, 30s, 90m or 1d (the number in digits, with a point for a fraction: 1.5s)"),
            (["j", "--command", "true", "--timeout", "0x10"], "--timeout 0x10 is not a duration; write one number and one unit"),
            (["j", "--command", "true", "--shards", "2", "--shard-params", "a,b,c"], "--shard-params gives 3 parameters for --shards 2"),
            ([String(repeating: "a", count: 982), "--command", "true"], "id is 982 bytes long (UTF-8); the longest job id is 969 bytes"),
            ([String(repeating: "a", count: 981), "--command", "true", "--shards", "12"], "the longest job id is 969 bytes"),
            ([" j", "--command", "true"], "id ' j' starts or ends with a space"),
            (["caf\u{65}\u{301}", "--command", "true"], "id is not in Unicode normal form C"),
            (["-dash", "--command", "true"], "-dash was read as options, not as the job's id: a job id cannot start with '-'"),
            (["--command", "true", "-dax"], "-dax was read as options, not as the job's id"),
            (["--command", "true", "--", "-dash"], "id '-dash' starts with '-'"),
            (["j", "--command", "true", "--cron", "@every 5m"], "--cron '@every 5m': a fixed interval is not a cron expression here; write --every 5m"),
            (["j", "--command", "true", "--cron", "@reboot"], "'@reboot' uses @reboot, which is not a macro coord knows; the macros are @yearly"),
            (["j", "--command", "true", "--cron", "0 0 0 * * * 2026"], "has 7 fields (a year field is not taken); write 6"),
            (["j", "--command", "true", "--every", "5ms"], "--every 5ms is too short; the shortest interval is 10ms"),
            (["j", "--command", "true", "--strategy", "broadcast", "--shards", "2"], "--strategy broadcast runs each fire time once on every worker, so it cannot be split into items"),
            (["j", "--command", "true", "--strategy", "broadcast", "--shard-params", "a,b"], "leave out --shards and --shard-params"),
            (["j", "--command", "true", "--shard-params", "a,b,"], "--shard-params 'a,b,' has an empty parameter (item 2 of 3, counted from 0): remove the extra comma"),
            (["j", "--command", "true", "--shard-params", ""], "--shard-params is empty; give the parameters, comma-separated"),
        ])
    func refusedWithUsageStatus(arguments: [String], problem: String) async throws {
        let coord = try CoordProcess()
        defer { coord.removeDirectory() }
        // An unreachable store: the command must fail on the job, not on the connection.
        let result = try await coord.run(["job", "add", "--store", "etcd://127.0.0.1:9/none"] + arguments)
        #expect(result.status == 64, "\(result.stderr)")
        #expect(result.stderrLines.count == 1, "\(result.stderr)")
        #expect(result.stderr.hasPrefix("coord: ") && result.stderr.contains(problem), "\(result.stderr)")
        #expect(!result.stderr.contains("/scheduler/"), "no key of the layout in a message")
        #expect(result.stdout.isEmpty)
    }

    /// Looked up as it was, an id no job can have failed only once the store was open, with
    /// status 6 and a key of the scheduler's layout (`invalid key segment 'a/b' under /scheduler/jobs/2d`).
    @Test(
        "show, rm, pause, resume, trigger, cancel and runs refuse an id no job can have with status 64 before any I/O",
        arguments: [
            ["job", "show"], ["job", "rm", "fine"], ["job", "pause"], ["job", "resume"], ["job", "trigger"], ["job", "cancel"], ["runs"],
            ["job", "pause", "fine"], ["job", "resume", "fine"], ["job", "trigger", "fine"], ["job", "cancel", "fine"],
        ])
    func lookupOfImpossibleID(command: [String]) async throws {
        let coord = try CoordProcess()
        defer { coord.removeDirectory() }
        for (id, problem) in [("a/b", "a segment must not contain '/'"), ("..", "segment '..' is not allowed"), ("", "empty segment")] {
            let result = try await coord.run(["--store", "etcd://127.0.0.1:9/none"] + command + [id])
            #expect(result.status == 64, "\(command) \(id): \(result.stderr)")
            #expect(result.stderrLines.count == 1, "\(result.stderr)")
            #expect(result.stderr.hasPrefix("coord: \(id.isEmpty ? "''" : "'\(id)'") cannot be a job id: \(problem)"), "\(result.stderr)")
            #expect(result.stderr.contains("(coord jobs lists the jobs there are)"), "\(result.stderr)")
            #expect(!result.stderr.contains("/scheduler/"), "no key of the layout in a message")
            #expect(result.stdout.isEmpty)
        }
    }

    @Test("job add --help teaches: the schedules' forms, what each strategy does, the policies, and examples")
    func jobAddHelp() async throws {
        let coord = try CoordProcess()
        defer { coord.removeDirectory() }
        let help = try await coord.run(["job", "add", "--help"])
        #expect(help.status == 0)
        let text = help.stdoutText.split(whereSeparator: \.isWhitespace).joined(separator: " ")
        for strategy in ["compete", "round-robin", "random", "least-loaded", "weighted", "consistent-hash", "broadcast"] {
            #expect(help.stdoutText.contains("\n  \(strategy) "), "\(strategy) is not explained: \(help.stdoutText)")
        }
        for phrase in [
            "the classic 5 without seconds", "Macros: @yearly", "Z or an offset is required", "a bare number is seconds",
            "first fires one interval after the job is added", "replace cancels the active run",
            "fire-once-now (the default) runs the latest once", "Examples:", "coord job add nightly --command",
            "COORD_SHARD, the item, 0 to COORD_SHARDS - 1", "COORD_ATTEMPT, 1 for the first",
        ] {
            #expect(text.contains(phrase), "\(phrase): \(help.stdoutText)")
        }
    }

    @Test("a jobs file holding no job is said so on stderr: job add --file adds nothing, coord run runs nothing of its own")
    func emptyJobsFile() async throws {
        let coord = try CoordProcess()
        defer { coord.removeDirectory() }
        let file = try coord.write("[]", to: "empty.json")
        let added = try await coord.run(["job", "add", "--file", file])
        #expect(added.status == 0 && added.stdout.isEmpty, "\(added.stderr)")
        #expect(added.stderrLines.first == "coord: note: \(file) holds no jobs (an empty array): nothing was added", "\(added.stderr)")
        let ran = try await coord.run(["run", file, "--until-idle"])
        #expect(ran.status == 0, "\(ran.stderr)")
        #expect(ran.stderrLines == ["coord: note: \(file) holds no jobs (an empty array)"], "\(ran.stderr)")
    }

    /// With a global option before `job add`, `-dash` was read as -d -a -s -h: the help, status 0, nothing added.
    @Test("an option-like id is named after global options too")
    func optionLikeIDAfterGlobalOptions() async throws {
        let coord = try CoordProcess()
        defer { coord.removeDirectory() }
        let result = try await coord.run(["--store", "etcd://127.0.0.1:9/none", "job", "add", "-dash", "--command", "true"])
        #expect(result.status == 64, "\(result.stderr)")
        #expect(result.stderrLines == ["coord: -dash was read as options, not as the job's id: a job id cannot start with '-'; give one that starts with a letter or a digit"])
        #expect(result.stdout.isEmpty)
    }

    @Test("--shard-params without --shards makes one item per parameter")
    func shardsFromParameters() async throws {
        let coord = try CoordProcess()
        defer { coord.removeDirectory() }
        let result = try await coord.run(["job", "add", "resize", "--command", "true", "--shard-params", "small,medium,large", "--json"])
        #expect(result.status == 0, "\(result.stderr)")
        let object = try #require(try JSONSerialization.jsonObject(with: Data(result.stdout)) as? [String: Any])
        #expect(object["shards"] as? Int == 3)
        #expect(object["shardParameters"] as? [String] == ["small", "medium", "large"])
    }

    @Test("a job due at a time already past is added with a note on stderr: it runs now")
    func pastTimeNote() async throws {
        let coord = try CoordProcess()
        defer { coord.removeDirectory() }
        let past = try await coord.run(["job", "add", "past1", "--command", "echo ran", "--at", "2020-01-01T00:00:00Z"])
        #expect(past.status == 0, "\(past.stderr)")
        #expect(past.stdoutText == "added past1\n")
        // On memory:// the note that the job lives only in this process follows.
        let memoryNote = "coord: note: " + CommandContext.memoryNote
        #expect(past.stderrLines.count == 2 && past.stderrLines.last == memoryNote, "\(past.stderr)")
        #expect(past.stderr.hasPrefix("coord: note: job past1 is due at 2020-01-01T00:00:00Z, "), "\(past.stderr)")
        #expect(past.stderrLines.first?.hasSuffix(" years ago: it runs now") == true, "\(past.stderr)")
        let future = try await coord.run(["job", "add", "later", "--command", "true", "--at", "+1h"])
        #expect(future.status == 0 && future.stderrLines == [memoryNote], "\(future.stderr)")
    }

    /// A typo in the year (2999 for 2029) left a job waiting for centuries without a word.
    @Test("a job due over a year from now is added with a note on stderr naming the time")
    func farFutureTimeNote() async throws {
        let coord = try CoordProcess()
        defer { coord.removeDirectory() }
        let memoryNote = "coord: note: " + CommandContext.memoryNote
        let far = try await coord.run(["job", "add", "far", "--command", "true", "--at", "2999-01-01T00:00:00Z"])
        #expect(far.status == 0, "\(far.stderr)")
        #expect(far.stdoutText == "added far\n")
        #expect(far.stderrLines.count == 2 && far.stderrLines.last == memoryNote, "\(far.stderr)")
        let note = far.stderrLines.first ?? ""
        #expect(note.hasPrefix("coord: note: job far is due at 2999-01-01T00:00:00Z, "), "\(far.stderr)")
        #expect(note.hasSuffix(" years from now: it waits until then; check the year if that is a typo"), "\(far.stderr)")
        let json = try await coord.run(["job", "add", "far2", "--command", "true", "--at", "+400d", "--json"])
        #expect(json.status == 0 && json.stderrLines.count == 2, "\(json.stderr)")
        #expect(json.stderrLines.first?.hasSuffix(", 1 year from now: it waits until then; check the year if that is a typo") == true, "\(json.stderr)")
        #expect((try? JSONSerialization.jsonObject(with: Data(json.stdout))) is [String: Any], "stdout stays one JSON object")
        let withinAYear = try await coord.run(["job", "add", "near", "--command", "true", "--at", "+360d"])
        #expect(withinAYear.status == 0 && withinAYear.stderrLines == [memoryNote], "\(withinAYear.stderr)")
    }

    @Test("a jobs file's bad time or oversized payload is refused with status 7 before any I/O")
    func jobsFileValues() async throws {
        let coord = try CoordProcess()
        defer { coord.removeDirectory() }
        let cases = [
            (
                #"[{"id": "x", "command": "true", "schedule": {"kind": "once", "at": "2027-02-30T12:00:00Z"}}]"#,
                "February 2027 has no day 30"
            ),
            (
                #"[{"id": "bigjob", "handler": "h", "payloadText": ""# + String(repeating: "a", count: 990_000) + #""}]"#,
                "job bigjob: payload is 990000 bytes; at most "
            ),
            (
                #"[{"id": "fast", "command": "true", "schedule": {"kind": "every", "everyMs": 5}}]"#,
                #"job fast: "schedule"."everyMs" must be at least 10 (milliseconds), e.g. "everyMs": 60000 (1 minute); got 5"#
            ),
        ]
        for (text, problem) in cases {
            let file = try coord.write(text, to: "jobs.json")
            let result = try await coord.run(["job", "add", "--file", file, "--store", "etcd://127.0.0.1:9/none"])
            #expect(result.status == 7, "\(result.stderr)")
            #expect(result.stderrLines.count == 1 && result.stderr.contains(problem), "\(result.stderr)")
        }
        // And an ISO 8601 time is taken.
        let file = try coord.write(#"[{"id": "x", "command": "true", "schedule": {"kind": "once", "at": "2099-01-01T00:00:00Z"}}]"#, to: "ok.json")
        let added = try await coord.run(["job", "add", "--file", file, "--json"])
        #expect(added.status == 0, "\(added.stderr)")
        #expect(added.stdoutText.contains(#""at":4070908800000"#), "\(added.stdoutText)")
    }
}
