@testable import CoordinationCLI
import Foundation
import Testing

/// Which status a bad value gets depends on where it was written, not on which check refused it:
/// on the command's own command line it is a usage error (64); in a global setting (a global
/// option, the environment, a config file) or in a jobs file it is a configuration error (7).
/// All on memory://: every refusal comes before any store is needed.
@Suite("coord exit statuses: the command line against settings and files")
struct ExitStatusTests {
    @Test(
        "a bad value of a command's own option is a usage error, 64, named by its option",
        arguments: [
            (["job", "add", "x", "--handler", "h", "--every", "abc"], "--every abc"),
            (["job", "add", "x", "--handler", "h", "--every", "0s"], "--every 0s"),
            (["job", "add", "x", "--handler", "h", "--timeout", "abc"], "--timeout abc"),
            (["job", "add", "x", "--handler", "h", "--at", "yesterday"], "--at yesterday"),
            (["job", "add", "x", "--handler", "h", "--at", "5m"], "--at 5m is a duration, not a time: write +5m for 5m from now"),
            (["job", "add", "x", "--handler", "h", "--at=-5m"], "--at -5m is a duration before now; a run is set for a time to come"),
            (["job", "add", "x", "--handler", "h", "--at", "2030-01-01 10:00"], "its time of day has no seconds: write 10:00:00"),
            (["job", "add", "x", "--handler", "h", "--shards", "0"], "--shards must be between 1 and"),
            (["job", "add", "x", "--handler", "h", "--shards", "-2"], "--shards must be between 1 and"),
            (["job", "add", "x", "--handler", "h", "--strategy", "foo"], "--strategy: unknown placement strategy 'foo'; known: compete,"),
            (["job", "add", "x", "--handler", "h", "--cron", "x"], "--cron: cron expression 'x' has 1 field;"),
            (["job", "add", "x", "--handler", "h", "--backoff", "soon"], "--backoff soon"),
            (["job", "add", "x", "--handler", "h", "--labels", "zone"], "--labels: 'zone' has no '='; write key=value pairs, comma-separated (zone=eu,disk=ssd)"),
            (["job", "add", "x", "--handler", "h", "--labels", "zone="], "--labels: 'zone=' has no value after '='"),
            (["job", "add", "x", "--handler", "h", "--labels", "=eu"], "--labels: '=eu' has no key before '='"),
            (["job", "add", "x", "--handler", "h", "--labels", "zone=eu,"], "--labels: '' is empty (a stray comma); write key=value pairs"),
            (["worker", "--labels", "zone=eu,,disk=ssd"], "--labels: '' is empty (a stray comma); write key=value pairs"),
            (["job", "add", "x", "--handler", "h", "--misfire", "later"], "--misfire: unknown misfire policy 'later'"),
            (["job", "add", "x", "--handler", "h", "--overlap", "never"], "--overlap: unknown overlap policy 'never'"),
            (["job", "add", "x", "--handler", "h", "--retries", "-1"], "--retries must be 0 or more, got -1"),
            (["job", "add", "x", "--handler", "h", "--retries", "9223372036854775807"], "--retries must be at most 1000000, got 9223372036854775807: "),
            (["job", "add", "x", "--handler", "h", "--retries", "1000001"], "--retries must be at most 1000000, got 1000001: "),
            (["worker", "--capacity", "0"], "--capacity must be between 1 and 1024, got 0"),
            (["worker", "--capacity", "1000000000000"], "--capacity must be between 1 and 1024, got 1000000000000: each slot is a shell command"),
            (["worker", "--capacity", "1025"], "--capacity must be between 1 and 1024, got 1025: "),
            (["worker", "--weight", "0"], "--weight must be between 1 and 1000, got 0"),
            (["worker", "--weight", "1000000000000"], "--weight must be between 1 and 1000, got 1000000000000: it is a share"),
            (["worker", "--capacity", "abc"], "--capacity"),
            (["worker", "--max-finished", "-1"], "--max-finished must not be negative, got -1"),
            (["worker", "--grace", "0s"], "--grace 0s"),
            (["worker", "--keep-finished", "soon"], "--keep-finished soon"),
            (["worker", "--id", "a/b"], "--id: worker id 'a/b' is not a valid key segment"),
            (["worker", "--labels", "zone=a, disk=ssd"], "--labels: ' disk=ssd' has a space around its key or value"),
            (["worker", "--id", String(repeating: "w", count: 129)], "is 129 bytes long (UTF-8); the longest worker id is 128 bytes"),
            (["run", "--workers", "0"], "--workers must be between 1 and 64, got 0"),
            (["run", "--example", "jobs.json"], "--example prints the example jobs and takes no jobs file; to write one: coord run --example > jobs.json"),
            (["run", "--workers", "-1"], "--workers must be between 1 and 64, got -1"),
            (["run", "--example", "--workers", "65"], "--workers must be between 1 and 64, got 65"),
            (["run", "--example", "--max-finished", "-1"], "--max-finished must not be negative, got -1"),
            (["run", "--workers", "1000000000000"], "--workers must be between 1 and 64, got 1000000000000: each is a store handle"),
            (["run", "--max-finished", "-1"], "--max-finished must not be negative, got -1"),
            (["bench", "--operations", "0"], "--operations must be between 1 and 1000000, got 0"),
            (["bench", "--operations", "-1"], "--operations must be between 1 and 1000000, got -1"),
            (["bench", "--in-flight", "-1"], "--in-flight must be between 1 and 1024, got -1"),
            (["bench", "--claims", "-1"], "--claims must be between 0 and 100000, got -1"),
            (["bench", "--claim-workers", "-1"], "--claim-workers must be between 1 and 64, got -1"),
            (["bench", "--claim-capacity", "-1"], "--claim-capacity must be between 1 and 1024, got -1"),
            (["bench", "--watchers", "-1"], "--watchers must be between 0 and 10000, got -1"),
            (["migrate", "--from", "memory://a", "--to", "memory://b", "--batch-size", "-1"], "--batch-size must be between 1 and 64, got -1"),
            (["migrate", "--from", "memory://a", "--to", "memory://b", "--read-width", "-1"], "--read-width must be at least 1, got -1"),
            (["migrate", "--from", "memory://a", "--to", "memory://b", "--show-differences", "-1"], "--show-differences must be 0 or more, got -1"),
            (["lock", "l", "--timeout", "abc", "--", "true"], "--timeout abc"),
        ])
    func badOwnOption(arguments: [String], named: String) async throws {
        let coord = try CoordProcess()
        defer { coord.removeDirectory() }
        let result = try await coord.run(["--store", "memory://"] + arguments)
        #expect(result.status == 64, "\(arguments): \(result.stderr)")
        #expect(result.stderr.contains(named), "\(arguments): \(result.stderr)")
        #expect(!result.stderr.contains("Missing value"), "\(arguments): a negative number read as an option: \(result.stderr)")
        // Not argument-parser's usage text: that is for what its parser finds (an unknown option, a number that is not one).
        if !arguments.contains("abc") {
            #expect(result.stderrLines.count == 1 && result.stderrLines[0].hasPrefix("coord: "), "\(arguments): \(result.stderr)")
        }
        #expect(result.stdout.isEmpty)
    }

    @Test("a key missing on memory:// is status 2 with a note that each command starts with an empty store; elsewhere no note")
    func missingKeyOnMemory() async throws {
        let coord = try CoordProcess()
        defer { coord.removeDirectory() }
        let put = try await coord.run(["kv", "put", "/config/color", "blue"])
        #expect(put.status == 0, "\(put.stderr)")
        let get = try await coord.run(["kv", "get", "/config/color"])
        #expect(get.status == 2, "\(get.stderr)")
        #expect(get.stderrLines.count == 1 && get.stderrLines[0].hasSuffix("(note: \(CommandContext.memoryKeysNote))"), "\(get.stderr)")
        // A refusal of another kind gets no note.
        let exists = try await coord.run(["kv", "rm", "/"])
        #expect(exists.status != 0 && !exists.stderr.contains("note"), "\(exists.stderr)")
    }

    /// Both used to trap in Foundation's readDataToEndOfFile (status 132, a backtrace).
    @Test("a stdin that cannot be read is one line naming why: kv put 64, a jobs file from - 7")
    func unreadableStandardInput() async throws {
        let coord = try CoordProcess()
        defer { coord.removeDirectory() }
        let put = try await coord.run(["kv", "put", "/x"], stdinPath: "/")
        #expect(put.status == 64, "\(put.stderr)")
        #expect(put.stderrLines == ["coord: standard input cannot be read: Is a directory; give the value as an argument, or pipe it in (echo hi | coord kv put /x)"])
        let run = try await coord.run(["run", "-"], stdinPath: "/")
        #expect(run.status == 7, "\(run.stderr)")
        #expect(run.stderrLines == ["coord: cannot read jobs file -: standard input cannot be read: Is a directory"])
        // A special file reads as one: FileManager gave nothing for it, and coord said "permission denied".
        let empty = try await coord.run(["job", "add", "--file", "/dev/null"])
        #expect(empty.status == 7, "\(empty.stderr)")
        #expect(empty.stderrLines.first?.hasPrefix("coord: /dev/null is not valid JSON: the file is empty") == true, "\(empty.stderr)")
    }

    @Test("a negative --priority is taken as the job's priority: JobSpec allows it")
    func negativePriority() async throws {
        let coord = try CoordProcess()
        defer { coord.removeDirectory() }
        let result = try await coord.run(["job", "add", "x", "--handler", "h", "--priority", "-5", "--json"])
        #expect(result.status == 0, "\(result.stderr)")
        #expect(result.stdoutText.contains(#""priority":-5"#), "\(result.stdoutText)")
    }

    @Test(
        "a bad global setting stays a configuration error, 7, wherever it is typed",
        arguments: [
            (["--session-ttl", "0s", "kv", "get", "/a"], "session TTL '0s' from --session-ttl"),
            (["--log-level", "loud", "kv", "get", "/a"], "log level 'loud' from --log-level"),
            // After the command's own options, on the same command line: still a setting.
            (["job", "add", "x", "--handler", "h", "--session-ttl", "0s"], "session TTL '0s' from --session-ttl"),
            (["worker", "--capacity", "2", "--log-level", "loud"], "log level 'loud' from --log-level"),
            // What the URL's backend refuses says where the URL came from, before any connection.
            (["--store", "etcd://127.0.0.1:1/a?tll=3s", "kv", "get", "/a"], "unknown option 'tll' for etcd:// store URLs; known options: ttl, timeout (from --store)"),
            (["--store", "zookeeper://127.0.0.1:1/a?ttl=abc", "kv", "get", "/a"], "store URL option ttl=abc is not a duration; "),
            (["--store", "memory://?ttl=1h30m", "kv", "get", "/a"], "(for 1h30m write 90m) (from --store)"),
        ])
    func badGlobalSetting(arguments: [String], named: String) async throws {
        let coord = try CoordProcess()
        defer { coord.removeDirectory() }
        let result = try await coord.run(arguments)
        #expect(result.status == 7, "\(arguments): \(result.stderr)")
        #expect(result.stderrLines.count == 1, "\(arguments): \(result.stderr)")
        #expect(result.stderr.contains(named), "\(arguments): \(result.stderr)")
    }

    @Test(
        "the checks that make a flag 64 make a jobs file 7: a file is not the command line",
        arguments: [
            (#"[{"id": "x", "command": "true", "shards": 0}]"#, #""shards" must be between 1 and 61"#),
            (#"[{"id": "x", "command": "true", "placement": "foo"}]"#, "unknown placement strategy 'foo'"),
            (#"[{"id": "x", "command": "true", "schedule": {"kind": "cron", "cron": "x"}}]"#, "cron expression 'x'"),
        ])
    func badJobsFile(contents: String, problem: String) async throws {
        let coord = try CoordProcess()
        defer { coord.removeDirectory() }
        let file = try coord.write(contents, to: "jobs.json")
        for arguments in [["job", "add", "--file", file], ["run", file, "--until-idle"]] {
            let result = try await coord.run(arguments)
            #expect(result.status == 7, "\(arguments): \(result.stderr)")
            #expect(result.stderrLines.count == 1, "\(arguments): \(result.stderr)")
            #expect(result.stderr.contains(problem), "\(arguments): \(result.stderr)")
        }
    }
}
