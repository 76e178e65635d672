import Foundation
import Testing

/// Commands that open the embedded store. Each `coord` process has its own, empty memory store,
/// so every test here is about one invocation.
@Suite("coord on the embedded store")
struct MemoryStoreCommandTests {
    @Test("coord --store memory:// kv put /a/b hello exits 0 and prints nothing")
    func put() async throws {
        let coord = try CoordProcess()
        defer { coord.removeDirectory() }
        let result = try await coord.run(["--store", "memory://", "kv", "put", "/a/b", "hello"])
        #expect(result.stderr == "")
        #expect(result.status == 0)
        #expect(result.stdout.isEmpty)
    }

    @Test("a value piped on stdin is accepted")
    func putFromStandardInput() async throws {
        let coord = try CoordProcess()
        defer { coord.removeDirectory() }
        let result = try await coord.run(["kv", "put", "/binary"], input: [0, 1, 2, 255, 10])
        #expect(result.stderr == "")
        #expect(result.status == 0)
    }

    @Test("a missing key: get, set and rm exit 2 naming the key", arguments: [
        ["kv", "get", "/missing"], ["kv", "set", "/missing", "x"], ["kv", "rm", "/missing"], ["kv", "rm", "-r", "/missing"],
        ["kv", "ls", "/missing"], ["kv", "tree", "/missing"],
    ])
    func missingKey(arguments: [String]) async throws {
        let coord = try CoordProcess()
        defer { coord.removeDirectory() }
        let result = try await coord.run(arguments)
        #expect(result.status == 2)
        #expect(result.stderrLines.count == 1)
        #expect(result.stderr.hasPrefix("coord: "))
        #expect(result.stderr.contains("/missing"))
        #expect(result.stdout.isEmpty)
    }

    @Test("kv create --sequential prints the key with its 10-digit suffix")
    func createSequential() async throws {
        let coord = try CoordProcess()
        defer { coord.removeDirectory() }
        let result = try await coord.run(["kv", "create", "/queue/job-", "payload", "--sequential"])
        #expect(result.status == 0)
        let line = result.stdoutText
        #expect(line.hasPrefix("/queue/job-"))
        #expect(line.hasSuffix("\n"))
        let suffix = line.dropFirst("/queue/job-".count).dropLast()
        #expect(suffix.count == 10 && suffix.allSatisfy(\.isNumber), "\(line)")
    }

    @Test("kv tree / and kv ls / on an empty store")
    func emptyStore() async throws {
        let coord = try CoordProcess()
        defer { coord.removeDirectory() }
        let tree = try await coord.run(["kv", "tree", "/"])
        #expect(tree.status == 0)
        #expect(tree.stdoutText == "/\n")
        let list = try await coord.run(["kv", "ls", "/", "--json"])
        #expect(list.status == 0)
        #expect(list.stdout.isEmpty)
    }

    @Test("kv watch prints a snapshot line and ends with status 0 on SIGINT")
    func watchUntilInterrupted() async throws {
        let coord = try CoordProcess()
        defer { coord.removeDirectory() }
        // memory:// named: with no store configured, a note says no other process changes it.
        let result = try await coord.run(["--store", "memory://", "kv", "watch", "/app", "--subtree"], interruptAfterFirstLine: true)
        #expect(result.stderr == "")
        #expect(result.status == 0)
        let lines = result.stdoutText.split(separator: "\n")
        #expect(lines.count == 1)
        let first = try JSONSerialization.jsonObject(with: Data(try #require(lines.first).utf8)) as? [String: Any]
        #expect(first?["type"] as? String == "snapshot")
        #expect((first?["records"] as? [Any])?.isEmpty == true)
    }

    @Test("kv watch refuses two or three scope flags, naming them", arguments: [
        (["--subtree", "--children"], "--subtree and --children exclude each other"),
        (["--grandchildren", "--children"], "--children and --grandchildren exclude each other"),
        (["--subtree", "--grandchildren"], "--subtree and --grandchildren exclude each other"),
        (["--children", "--grandchildren", "--subtree"], "--subtree, --children and --grandchildren exclude each other"),
    ])
    func watchScopesExcludeEachOther(flags: [String], message: String) async throws {
        let coord = try CoordProcess()
        defer { coord.removeDirectory() }
        let result = try await coord.run(["kv", "watch", "/app"] + flags)
        #expect(result.status == 64)
        #expect(result.stderrLines == ["coord: " + message + ": choose one scope"], "\(result.stderr)")
    }

    @Test("coord demo runs every step and exits 0")
    func demo() async throws {
        let coord = try CoordProcess()
        defer { coord.removeDirectory() }
        let result = try await coord.run(["demo"])
        #expect(result.stderr == "")
        #expect(result.status == 0)
        let output = result.stdoutText
        for expected in [
            "refused (versionConflict)", "job-", "exists /demo/workers/w1  → true", "exists /demo/workers/w1  → false",
            "refused (nodeExists): transaction operation 3 of 3 failed", "watch: snapshot", "watch: delete /demo/config/size", "Done.",
        ] {
            #expect(output.contains(expected), "\(expected)")
        }
    }

    @Test("logs go to stderr at the configured level, never to stdout")
    func logsOnStandardError() async throws {
        let coord = try CoordProcess()
        defer { coord.removeDirectory() }
        _ = try coord.write(#"{"store": "memory://from-file", "logLevel": "debug"}"#, to: "coord.json")
        let result = try await coord.run(["kv", "ls", "/"])
        #expect(result.status == 0)
        #expect(result.stdout.isEmpty)
        #expect(result.stderr.contains("store=memory://from-file"))
        #expect(result.stderr.contains("configuration resolved"))
    }
}
