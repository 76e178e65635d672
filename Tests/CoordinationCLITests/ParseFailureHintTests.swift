@testable import CoordinationCLI
import Foundation
import Testing

/// argument-parser says "Unexpected argument 'gett'" for a misspelt command, "Unknown option
/// '--command'" for `job ad x --command true`, and "Missing value" for `worker --keep-finished -1d`.
@Suite("usage errors argument-parser words misleadingly: a misspelt command, a negative value after a space")
struct ParseFailureHintTests {
    @Test(
        "a word where a command is due that names none is an unknown command, with the commands there and the nearest",
        arguments: [
            (["foo"], "Unexpected argument 'foo'", "unknown command 'foo' for coord; the commands: kv, lock, elect, members, run, job, jobs,"),
            (["kv", "gett", "/a"], "2 unexpected arguments: 'gett', '/a'", "unknown command 'gett' for coord kv (did you mean 'get'?); the commands: put, get, create,"),
            (
                ["--store", "memory://", "job", "ad", "x", "--command", "true"], "Unknown option '--command'",
                "unknown command 'ad' for coord job (did you mean 'add'?)"
            ),
            (["--log-level=info", "kv", "lss"], "Unexpected argument 'lss'", "unknown command 'lss' for coord kv (did you mean 'ls'?)"),
        ])
    func unknownCommand(arguments: [String], message: String, line: String) throws {
        let hint = try #require(ParseFailureHint.line(for: arguments, message: message))
        #expect(hint.hasPrefix(line), "\(hint)")
        #expect(!hint.contains("__lifeline"), "hidden commands stay hidden: \(hint)")
    }

    /// `coord jobs add backup --command ./backup.sh`: argument-parser said "Unexpected argument
    /// 'add'", then the usage of jobs, which lists and adds nothing.
    @Test("a command of job given to jobs, which takes none, is named with the command meant")
    func commandOfNamesake() {
        #expect(
            ParseFailureHint.line(for: ["--store", "memory://", "jobs", "add", "backup"], message: "2 unexpected arguments: 'add', 'backup'")
                == "coord jobs takes no command 'add'; did you mean coord job add? (see coord job --help)")
        #expect(ParseFailureHint.line(for: ["jobs", "rm"], message: "Unexpected argument 'rm'") == "coord jobs takes no command 'rm'; did you mean coord job rm? (see coord job --help)")
        #expect(ParseFailureHint.line(for: ["jobs", "backup"], message: "Unexpected argument 'backup'") == nil, "not one of job's commands")
        #expect(ParseFailureHint.line(for: ["workers", "add"], message: "Unexpected argument 'add'") == nil, "worker has no commands")
    }

    /// A flag before the misspelt command was taken to hold a value: "unknown command 'get'".
    @Test("an unknown option before a misspelt command is the failure argument-parser names, and its words stand")
    func unknownOptionFirst() {
        #expect(ParseFailureHint.line(for: ["--yes", "kvv", "get", "/a"], message: "Unknown option '--yes'") == nil)
        #expect(ParseFailureHint.line(for: ["kvv", "--yes"], message: "Unknown option '--yes'") != nil, "after it: the misspelt command is why")
    }

    @Test("a command line whose commands all exist gets no hint: argument-parser's own words stand")
    func knownCommands() {
        for arguments in [["kv", "get", "/a", "--bogus"], ["--store", "memory://", "kv", "ls"], ["lock", "l", "--", "foo"], ["job", "add", "x"]] {
            #expect(ParseFailureHint.line(for: arguments, message: "Unknown option '--bogus'") == nil, "\(arguments)")
        }
    }

    @Test("a negative value after a space is named with the form that works, only when its option's value is what is missing")
    func negativeValue() {
        let arguments = ["worker", "--keep-finished", "-1d"]
        #expect(
            ParseFailureHint.line(for: arguments, message: "Missing value for '--keep-finished <d|forever>'")
                == "--keep-finished -1d: a value starting with '-' reads as an option; write --keep-finished=-1d")
        #expect(ParseFailureHint.line(for: arguments, message: "Unknown option '--bogus'") == nil)
    }

    /// `lock x --session-ttl -- true`: the option took `--` for its value (it takes the next
    /// word whatever it is, so that `-5s` is refused by name), and argument-parser then said
    /// "Unexpected argument 'true'", nowhere near the option left without its value.
    @Test("an option that takes any next word, left without its value, is named; a negative number there is not this")
    func valueLeftOut() {
        let unexpected = "Unexpected argument 'true'"
        #expect(
            ParseFailureHint.line(for: ["lock", "x", "--session-ttl", "--", "true"], message: unexpected)
                == "--session-ttl has no value: it took '--' for one; give the value right after it, such as --session-ttl 10s")
        #expect(
            ParseFailureHint.line(for: ["lock", "x", "--timeout", "--store", "y", "--", "true"], message: "Unexpected argument 'y'")
                == "--timeout has no value: it took '--store' for one; give the value right after it, such as --timeout 10s")
        #expect(ParseFailureHint.valueLeftOut(in: ["lock", "x", "--timeout", "-1", "--", "true"], message: unexpected) == nil)
        #expect(ParseFailureHint.valueLeftOut(in: ["lock", "x", "--timeout", "5s", "extra"], message: unexpected) == nil)
        #expect(ParseFailureHint.valueLeftOut(in: ["lock", "x", "--session-ttl", "--", "true"], message: "Unknown option '--x'") == nil)
    }

    @Test(
        "a command to run given without -- is shown with it, options and their values kept before it",
        arguments: [
            (["lock", "e1", "echo", "hi"], "coord lock e1 -- echo hi"),
            (["lock", "--store", "zookeeper://h/a", "deploy", "./deploy.sh", "prod"], "coord lock --store zookeeper://h/a deploy -- ./deploy.sh prod"),
            (["--store", "zookeeper://h/a", "lock", "deploy", "--timeout", "5s", "./deploy.sh"], "coord --store zookeeper://h/a lock deploy --timeout 5s -- ./deploy.sh"),
            (["elect", "--identity", "me", "e1", "echo", "hi"], "coord elect --identity me e1 -- echo hi"),
            (["members", "web", "--join", "w1", "sleep", "5"], "coord members web --join w1 -- sleep 5"),
        ])
    func missingTerminator(arguments: [String], fixed: String) {
        let line = ParseFailureHint.line(for: arguments, message: "2 unexpected arguments: 'x', 'y'")
        #expect(line?.hasSuffix("goes after --: " + fixed) == true, "\(line ?? "nil")")
    }

    @Test("the words lock and elect elsewhere, and members without --join, get no such hint")
    func noTerminatorHint() {
        for arguments in [["kv", "put", "/a", "lock", "x", "y"], ["members", "web", "extra"], ["kv", "get", "elect", "x"]] {
            #expect(ParseFailureHint.missingTerminator(in: arguments, message: "2 unexpected arguments: 'x', 'y'") == nil, "\(arguments)")
        }
    }

    @Test("as a process: one line, status 64")
    func asAProcess() async throws {
        let coord = try CoordProcess()
        defer { coord.removeDirectory() }
        let result = try await coord.run(["kv", "gett", "/a"])
        #expect(result.status == 64, "\(result.stderr)")
        #expect(result.stderrLines.count == 1 && result.stderrLines[0].hasPrefix("coord: unknown command 'gett' for coord kv"), "\(result.stderr)")
        let negative = try await coord.run(["worker", "--keep-finished", "-1d"])
        #expect(negative.status == 64 && negative.stderrLines == ["coord: --keep-finished -1d: a value starting with '-' reads as an option; write --keep-finished=-1d"], "\(negative.stderr)")
        let leftOut = try await coord.run(["--store", "memory://", "lock", "x", "--session-ttl", "--", "true"])
        #expect(
            leftOut.status == 64
                && leftOut.stderrLines == ["coord: --session-ttl has no value: it took '--' for one; give the value right after it, such as --session-ttl 10s"],
            "\(leftOut.stderr)")
        let help = try await coord.run(["kv", "--help"])
        #expect(help.status == 0 && help.stdoutText.contains("get"), "help is untouched: \(help.stderr)")
    }

    /// `coord kv put /a -ahoy` printed put's help (the `h` among the letters read as options) and
    /// exited 0 with nothing written; `coord kv put /offset -5` said "Unknown option '-5'".
    @Test("a kv value that starts with '-' is refused with the form that works, 64, and never taken for help", arguments: [
        (["kv", "put", "/a", "-ahoy"], "coord: -ahoy was read as options, not as the value: put -- before a value that starts with '-': coord kv put /a -- -ahoy"),
        (["kv", "put", "/offset", "-5"], "coord: -5 was read as options, not as the value: put -- before a value that starts with '-': coord kv put /offset -- -5"),
        (["kv", "set", "/a", "-5", "--if-version", "2"], "coord: -5 was read as options, not as the value: put -- before a value that starts with '-': coord kv set /a --if-version 2 -- -5"),
        (["--store", "memory://", "kv", "create", "/q/a-", "-h1", "--sequential"], "coord: -h1 was read as options, not as the value: put -- before a value that starts with '-': coord --store memory:// kv create /q/a- --sequential -- -h1"),
    ])
    func optionLikeValue(arguments: [String], line: String) async throws {
        let coord = try CoordProcess()
        defer { coord.removeDirectory() }
        let result = try await coord.run(arguments)
        #expect(result.status == 64, "\(result.stderr)")
        #expect(result.stderrLines == [line], "\(result.stderr)")
        #expect(result.stdout.isEmpty, "no help: \(result.stdoutText)")
    }

    @Test("a value after --, a lone '-', a negative --if-version and -h keep their meaning")
    func optionLikeValueLeftAlone() async throws {
        let coord = try CoordProcess()
        defer { coord.removeDirectory() }
        let created = try await coord.run(["kv", "create", "/a", "--", "-5"])
        #expect(created.status == 0 && created.stdoutText == "/a\n", "\(created.stderr)")
        #expect(try await coord.run(["kv", "put", "/a", "-"]).status == 0)
        let negative = try await coord.run(["kv", "set", "/a", "1", "--if-version", "-1"])
        #expect(negative.stderrLines == ["coord: --if-version must be 0 or more (a key's version starts at 0), got -1"], "\(negative.stderr)")
        let help = try await coord.run(["kv", "put", "/a", "-h"])
        #expect(help.status == 0 && help.stdoutText.hasPrefix("OVERVIEW: Create a key"), "\(help.stderr)")
    }

    /// `coord lock -ahoy -- ./deploy.sh` read -ahoy as -a -h -o -y: lock's help, status 0, and
    /// the command never ran, so a script took it for done.
    @Test("a name starting with '-' that holds an h is refused, 64, not taken for help; help asked for in full stays help")
    func helpAmongLetters() async throws {
        let coord = try CoordProcess()
        defer { coord.removeDirectory() }
        let marker = coord.directory.appendingPathComponent("ran").path
        let lock = try await coord.run(["lock", "-ahoy", "--", "touch", marker])
        #expect(lock.status == 64, "\(lock.stderr)")
        #expect(lock.stderrLines == ["coord: -ahoy was read as the options -a -h -o -y, and -h asks for help: a name or value cannot start with '-' here"])
        #expect(lock.stdout.isEmpty, "no help: \(lock.stdoutText)")
        #expect(!FileManager.default.fileExists(atPath: marker))
        let get = try await coord.run(["kv", "get", "-h1"])
        #expect(get.status == 64 && get.stderrLines.count == 1, "\(get.stderr)")
        for asked in [["lock", "-h"], ["lock", "--help"], ["kv", "ls", "-help"], ["help", "lock"], ["lock", "-h", "-ahoy"]] {
            let help = try await coord.run(asked)
            #expect(help.status == 0 && help.stdoutText.contains("OVERVIEW"), "\(asked): \(help.stderr)")
        }
    }

    /// `coord help jbos` printed coord's own help, status 0, as if jbos were documented there.
    @Test("coord help with a topic that names no command is refused as a misspelt command, 64; a real topic stays help", arguments: [
        (["help", "jbos"], "unknown command 'jbos' for coord; the commands: kv, lock,"),
        (["help", "kv", "gett"], "unknown command 'gett' for coord kv (did you mean 'get'?); the commands: put, get,"),
        (["help", "job", "ad"], "unknown command 'ad' for coord job (did you mean 'add'?); the commands: add, show,"),
    ])
    func unknownHelpTopic(arguments: [String], said: String) async throws {
        let coord = try CoordProcess()
        defer { coord.removeDirectory() }
        let refused = try await coord.run(arguments)
        #expect(refused.status == 64, "\(arguments): \(refused.stderr)")
        #expect(refused.stderrLines.count == 1 && refused.stderr.hasPrefix("coord: " + said), "\(refused.stderr)")
        #expect(refused.stdout.isEmpty, "no help: \(refused.stdoutText)")
        let topic = Array(arguments.dropLast())
        let help = try await coord.run(topic)
        #expect(help.status == 0 && help.stdoutText.contains("OVERVIEW"), "\(topic): \(help.stderr)")
    }
}
