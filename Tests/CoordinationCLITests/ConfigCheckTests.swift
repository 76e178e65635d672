import Coordination
import CoordinationTestSupport
import Foundation
import Testing

/// `coord config check`: each setting with its source, passwords masked, then the connection.
@Suite("coord config check")
struct ConfigCheckTests {
    @Test("every setting names its source, and the connection line says what was reached")
    func resolvedAndConnected() async throws {
        let coord = try CoordProcess(environment: ["COORD_LOG_LEVEL": "info"])
        defer { coord.removeDirectory() }
        let result = try await coord.run(["config", "check"])
        #expect(result.status == 0, "\(result.stderr)")
        let lines = String(decoding: result.stdout, as: UTF8.self).split(separator: "\n").map(String.init)
        #expect(lines.contains { $0.hasPrefix("store") && $0.contains("memory://") && $0.hasSuffix("(the default)") })
        #expect(lines.contains { $0.hasPrefix("log level") && $0.contains("info") && $0.contains("COORD_LOG_LEVEL") })
        #expect(lines.last?.hasPrefix("connection") == true && lines.last?.contains("ok: memory") == true, "\(lines)")
    }

    @Test("a password prints as ***, and a store that cannot be reached fails with exit 9")
    func maskedAndUnreachable() async throws {
        let coord = try CoordProcess()
        defer { coord.removeDirectory() }
        // Nothing listens on this port of the CLI tests' range: the connection is refused at once.
        let result = try await coord.run(["--store", "etcd://admin:hunter2-secret@127.0.0.1:24998/app", "config", "check"])
        #expect(result.status == 9, "\(result.stderr)")
        let output = String(decoding: result.stdout, as: UTF8.self)
        #expect(output.contains("etcd://admin:***@127.0.0.1:24998/app"))
        #expect(!output.contains("hunter2") && !result.stderr.contains("hunter2"), "the password never shows")
        #expect(result.stderrLines.count == 1)
    }

    /// Opening a store under a namespace creates it: `config check` with a misspelt namespace
    /// left an empty key of that name in the shared store, and said only "holds 0 keys".
    @Test("config check leaves a namespace that did not exist as it was, and says it does not exist", arguments: SchedulerProcessTests.servers)
    func missingNamespaceIsLeftAlone(backend: TestBackend) async throws {
        let handles = try TestHandles(backend)
        try await TestHandles.closing(handles) {
            let url = try #require(backend.url(handles.namespace))
            let coord = try CoordProcess()
            defer { coord.removeDirectory() }
            let result = try await coord.run(["--store", url, "config", "check"])
            #expect(result.status == 0, "\(result.stderr)")
            let connection = result.stdoutText.split(separator: "\n").last.map(String.init) ?? ""
            #expect(connection.hasSuffix("namespace \(handles.namespace.path) does not exist (is it right?)"), "\(connection)")
            let root = try await backend.open(.root, handles.ttl)
            let exists = try await root.exists(handles.namespace)
            await root.close()
            #expect(!exists, "config check made the namespace \(handles.namespace)")

            // An existing one is left alone too, and counted.
            _ = try await handles.open().create(try Key("/k"), value: [], mode: .persistent)
            let again = try await coord.run(["--store", url, "config", "check"])
            #expect(again.stdoutText.contains("namespace \(handles.namespace.path) holds 1 key at its top"), "\(again.stdoutText) \(again.stderr)")
        }
    }

    /// etcd raises a TTL below its minimum lease TTL (2 s with its default election timeout), as
    /// ZooKeeper raises one below its minSessionTimeout: the line said `TTL 1s` on etcd, the TTL
    /// asked for, where on ZooKeeper it gave the one granted.
    @Test("on etcd, the connection line gives the TTL etcd granted, not the one asked for")
    func grantedTTLOnEtcd() async throws {
        let handles = try TestHandles(.etcd)
        try await TestHandles.closing(handles) {
            let url = try #require(TestBackend.etcd.url(handles.namespace))
            let coord = try CoordProcess()
            defer { coord.removeDirectory() }
            let result = try await coord.run(["--store", url, "--session-ttl", "1s", "config", "check"])
            #expect(result.status == 0, "\(result.stderr)")
            let connection = result.stdoutText.split(separator: "\n").last.map(String.init) ?? ""
            #expect(connection.hasPrefix("connection") && connection.contains("ok: etcd, session "), "\(result.stdoutText)")
            #expect(connection.contains(", TTL 2s, "), "\(connection)")
        }
    }

    @Test("flags beat the environment, which beats the file; the password file is read, never printed")
    func refinementsAndTheirSources() async throws {
        let coord = try CoordProcess(environment: [
            "COORD_NAMESPACE": "/from-env", "COORD_SESSION_TTL": "9s", "COORD_USERNAME": "app", "COORD_PASSWORD": "env-pw-1",
        ])
        defer { coord.removeDirectory() }
        let config = try coord.write(#"{"store": "memory://", "namespace": "/from-file", "sessionTtl": "7s"}"#, to: "coord.json")
        let result = try await coord.run(["--config", config, "--session-ttl", "3s", "config", "check"])
        // memory:// takes no credentials: the user name and password from the environment are
        // left out, with a note (they used to make it refuse, 7).
        #expect(result.status == 0, "\(result.stderr)")
        let output = result.stdoutText
        func line(_ name: String) -> String { output.split(separator: "\n").map(String.init).first { $0.hasPrefix(name + " ") } ?? "" }
        #expect(line("username").hasSuffix("(environment variable COORD_USERNAME; not applied: memory:// takes no credentials)"), "\(output)")
        #expect(result.stderrLines.contains(
            "coord: note: user 'app' from environment variable COORD_USERNAME is not used: it applies to ZooKeeper and etcd stores, "
                + "not memory:// (which takes no credentials)"), "\(result.stderr)")
        #expect(line("namespace").contains("/from-env") && line("namespace").hasSuffix("(environment variable COORD_NAMESPACE)"), "\(output)")
        #expect(line("session TTL").contains("3s") && line("session TTL").hasSuffix("(--session-ttl)"), "\(output)")
        #expect(
            line("password").contains("***")
                && line("password").hasSuffix("(environment variable COORD_PASSWORD; not applied: memory:// takes no credentials)"),
            "\(output)")
        #expect(!output.contains("env-pw-1") && !result.stderr.contains("env-pw-1"), "the password never shows")

        let secret = try coord.write("file-pw-2\n", to: "secret")
        // On a store that takes credentials (memory:// refuses a password file); nothing listens there.
        let fromFile = try await coord.run([
            "--config", config, "--store", "etcd://127.0.0.1:24998", "--password-file", secret, "--namespace", "/flag", "config", "check",
        ])
        #expect(fromFile.status == 9, "\(fromFile.stderr)")
        #expect(fromFile.stdoutText.split(separator: "\n").contains { $0.hasPrefix("namespace ") && $0.contains("/flag") && $0.hasSuffix("(--namespace)") })
        #expect(fromFile.stdoutText.split(separator: "\n").contains { $0.hasPrefix("password file ") && $0.hasSuffix("(--password-file)") }, "\(fromFile.stdoutText)")
        #expect(!fromFile.stdoutText.contains("file-pw-2") && !fromFile.stderr.contains("file-pw-2"))
    }

    /// An exported COORD_PASSWORD used to make every etcd or ZooKeeper URL without a user fail
    /// with "'etcd://…' has a password but no user name" (status 7), blaming the URL.
    @Test("a password from the environment without a user name is not used, with a note; --password-file without one is refused, by name")
    func passwordWithoutUser() async throws {
        let handles = try TestHandles(.etcd)
        try await TestHandles.closing(handles) {
            let url = try #require(TestBackend.etcd.url(handles.namespace))
            let coord = try CoordProcess(environment: ["COORD_PASSWORD": "env-pw-3"])
            defer { coord.removeDirectory() }
            let fix = "give --username, COORD_USERNAME or 'username' in the config file, or the user in the URL (etcd://user@host/…)"
            let fromEnvironment = try await coord.run(["--store", url, "kv", "put", "/k", "v"])
            #expect(fromEnvironment.status == 0, "\(fromEnvironment.stderr)")
            #expect(fromEnvironment.stderrLines == [
                "coord: note: the password from environment variable COORD_PASSWORD is not used: no user name is given, "
                    + "so coord connects without credentials; to log in, \(fix)",
            ])
            let secret = try coord.write("file-pw-4\n", to: "secret")
            let fromFlag = try await coord.run(["--store", url, "--password-file", secret, "kv", "get", "/k"])
            #expect(fromFlag.status == 7, "\(fromFlag.stderr)")
            #expect(fromFlag.stderrLines == ["coord: password file \(secret) from --password-file needs a user name, and none is given: \(fix)"])
            #expect(!fromFlag.stderr.contains("file-pw-4") && !fromEnvironment.stderr.contains("env-pw-3"))
        }
    }

    /// A password on memory:// used to be taken silently (the store ignored it), while a user name was refused.
    @Test("a password on memory:// is refused from --password-file, and from the environment not used, with a note that config check repeats")
    func passwordOnMemory() async throws {
        let coord = try CoordProcess(environment: ["COORD_PASSWORD": "env-pw-5"])
        defer { coord.removeDirectory() }
        let why = "applies to ZooKeeper and etcd stores, not memory:// (which takes no credentials)"
        let fromEnvironment = try await coord.run(["kv", "ls", "/"])
        #expect(fromEnvironment.status == 0, "\(fromEnvironment.stderr)")
        #expect(fromEnvironment.stderrLines == ["coord: note: the password from environment variable COORD_PASSWORD is not used: it \(why)"])
        let check = try await coord.run(["config", "check"])
        #expect(check.status == 0, "\(check.stderr)")
        let password = check.stdoutText.split(separator: "\n").first { $0.hasPrefix("password ") }.map(String.init) ?? ""
        #expect(password.hasSuffix("(environment variable COORD_PASSWORD; not applied: memory:// takes no credentials)"), "\(check.stdoutText)")

        let secret = try coord.write("file-pw-6\n", to: "secret")
        let fromFlag = try await CoordProcess().run(["--password-file", secret, "kv", "ls", "/"])
        #expect(fromFlag.status == 7, "\(fromFlag.stderr)")
        #expect(fromFlag.stderrLines == ["coord: password file \(secret) from --password-file \(why)"])
        #expect(![fromEnvironment.stderr, check.stdoutText, check.stderr, fromFlag.stderr].contains { $0.contains("-pw-") }, "the password never shows")
    }

    /// A coord.json left in the current directory used to send an explicit `--store …/prod` to
    /// the file's namespace and TTL.
    @Test("a config file's namespace and TTL do not override what a --store or COORD_STORE URL says, but a flag does")
    func weakerRefinementsLeaveTheURLAlone() async throws {
        let coord = try CoordProcess()
        defer { coord.removeDirectory() }
        _ = try coord.write(#"{"store": "memory://", "namespace": "/from-file", "sessionTtl": "5s"}"#, to: "coord.json")
        func line(_ output: String, _ name: String) -> String {
            output.split(separator: "\n").map(String.init).first { $0.hasPrefix(name + " ") } ?? ""
        }
        let explicit = try await coord.run(["--store", "memory:///prod?ttl=7s", "config", "check"])
        #expect(explicit.status == 0, "\(explicit.stderr)")
        #expect(line(explicit.stdoutText, "store").contains("memory:///prod?ttl=7s"), "\(explicit.stdoutText)")
        #expect(line(explicit.stdoutText, "namespace").hasSuffix("not applied: the store URL from --store says otherwise)"), "\(explicit.stdoutText)")
        #expect(line(explicit.stdoutText, "session TTL").hasSuffix("not applied: the store URL from --store says otherwise)"), "\(explicit.stdoutText)")
        #expect(explicit.stdoutText.contains("namespace /prod holds"), "\(explicit.stdoutText)")

        // A URL that says nothing of them takes them; a flag beats the environment's URL.
        let bare = try await coord.run(["--store", "memory://", "config", "check"])
        #expect(line(bare.stdoutText, "store").contains("/from-file") && !bare.stdoutText.contains("not applied"), "\(bare.stdoutText)")
        let environment = try CoordProcess(environment: ["COORD_STORE": "memory:///prod"])
        defer { environment.removeDirectory() }
        let flagged = try await environment.run(["--namespace", "/flag", "config", "check"])
        #expect(flagged.stdoutText.contains("namespace /flag holds"), "\(flagged.stdoutText)")
    }

    /// `--session-ttl 20d` on ZooKeeper hung until killed and `etcd://h:abc` failed as a lost
    /// write: both are configuration mistakes, said as such before any connection.
    @Test("a session TTL outside 1s to 1d or a malformed endpoint exits 7 at once, on every backend")
    func outOfRangeTTLsAndMalformedEndpoints() async throws {
        let coord = try CoordProcess()
        defer { coord.removeDirectory() }
        let range = "is outside the session TTLs every backend accepts, 1s to 1d"
        let cases: [([String], String)] = [
            (["--store", "zookeeper://127.0.0.1:2181/ns", "--session-ttl", "20d"], "coord: session TTL '20d' from --session-ttl \(range)"),
            (["--store", "zookeeper://127.0.0.1:2181/ns?sessionTimeout=30d"], "coord: store URL option sessionTimeout=30d \(range)"),
            (["--store", "zookeeper://127.0.0.1:2181/ns", "--session-ttl", "1ms"], "coord: session TTL '1ms' from --session-ttl \(range)"),
            (["--store", "etcd://127.0.0.1:2379/ns", "--session-ttl", "1000d"], "coord: session TTL '1000d' from --session-ttl \(range)"),
            (["--store", "memory://", "--session-ttl", "500ms"], "coord: session TTL '500ms' from --session-ttl \(range)"),
            (["--store", "etcd://127.0.0.1:abc/ns"], "coord: store URL 'etcd://127.0.0.1:abc/ns': endpoint '127.0.0.1:abc' has port 'abc', not a number from 1 to 65535; write each endpoint as host:port"),
            (["--store", "zookeeper://127.0.0.1:99999/ns"], "coord: store URL 'zookeeper://127.0.0.1:99999/ns': endpoint '127.0.0.1:99999' has port '99999'"),
            (["--store", "zookeeper://h:2181,:2182/ns"], "coord: store URL 'zookeeper://h:2181,:2182/ns': endpoint ':2182' has no host"),
        ]
        for (arguments, expected) in cases {
            let result = try await coord.run(arguments + ["kv", "ls", "/"], timeout: .seconds(20))
            #expect(result.status == 7, "\(arguments): \(result.stderr)")
            #expect(result.stderrLines.count == 1 && result.stderrLines.first?.hasPrefix(expected) == true, "\(arguments): \(result.stderr)")
        }
    }

    /// A URL that did not parse stopped config check at its error: none of the other settings,
    /// nor where they came from, was shown.
    @Test("a store URL that does not parse still gets the table, its problem in the store's row, the password nowhere, and exit 7")
    func unparsableStoreURL() async throws {
        let coord = try CoordProcess(environment: ["COORD_STORE": "etcd://app:hunter/2secret@127.0.0.1:2379/ns", "COORD_LOG_LEVEL": "info"])
        defer { coord.removeDirectory() }
        let result = try await coord.run(["--namespace", "/flagged", "config", "check"])
        #expect(result.status == 7, "\(result.stderr)")
        let problem = "store URL 'etcd://***@127.0.0.1:2379/ns' has an '@' after its host part"
        #expect(result.stderrLines.count == 1 && result.stderrLines.first?.hasPrefix("coord: " + problem) == true, "\(result.stderr)")
        #expect(result.stderrLines.first?.hasSuffix("(from environment variable COORD_STORE)") == true, "\(result.stderr)")
        let lines = result.stdoutText.split(separator: "\n").map(String.init)
        func line(_ name: String) -> String { lines.first { $0.hasPrefix(name + " ") } ?? "" }
        #expect(line("config file").contains("none"), "\(lines)")
        #expect(line("store").contains(" invalid ") && line("store").contains("(environment variable COORD_STORE; refused: \(problem)"), "\(lines)")
        #expect(line("log level").contains("info") && line("log level").hasSuffix("(environment variable COORD_LOG_LEVEL)"), "\(lines)")
        #expect(line("namespace").contains("/flagged") && line("namespace").hasSuffix("(--namespace)"), "\(lines)")
        #expect(!lines.contains { $0.hasPrefix("connection") }, "nothing was connected to: \(lines)")
        #expect(!result.stdoutText.contains("hunter") && !result.stderr.contains("hunter"), "the password never shows")
    }

    /// A URL that parses but that its backend refuses (`?sessionTimeout=5000`, a TLS file that a
    /// setting names and that is missing) printed in the store's row as if it were fine, the
    /// refusal only after the table.
    @Test("a store URL its backend refuses is invalid in the store's row too, the setting to fix named on stderr")
    func storeURLRefusedByItsBackend() async throws {
        let coord = try CoordProcess(environment: ["COORD_TLS_CA": "/nonexistent/ca.pem"])
        defer { coord.removeDirectory() }
        let cases: [(store: String, row: String, stderr: String)] = [
            ("zookeeper://127.0.0.1:1/ns?sessionTimeout=5000",
             "(--store; refused: store URL option sessionTimeout=5000 is a bare number", "(from --store)"),
            ("etcds://127.0.0.1:1/ns",
             "(--store, with what follows applied; refused: store URL option cacert=/nonexistent/ca.pem: no such file)",
             "(from environment variable COORD_TLS_CA)"),
        ]
        for (store, row, stderr) in cases {
            let result = try await coord.run(["--store", store, "config", "check"])
            #expect(result.status == 7, "\(store): \(result.stderr)")
            // On zookeeper:// a note that COORD_TLS_CA is left out comes first.
            #expect(result.stderrLines.last?.hasSuffix(stderr) == true, "\(store): \(result.stderr)")
            let lines = result.stdoutText.split(separator: "\n").map(String.init)
            let storeRow = lines.first { $0.hasPrefix("store ") } ?? ""
            #expect(storeRow.contains(" invalid ") && storeRow.contains(row), "\(store): \(lines)")
            #expect(!lines.contains { $0.hasPrefix("connection") }, "nothing was connected to: \(lines)")
        }
    }

    /// `--session-ttl -5s` read -5s as an option: a hint to write --session-ttl=-5s, which only
    /// led to a second refusal that named no range.
    @Test("a negative session TTL, after a space or not, from a flag or the environment, is refused at once naming the range, on every backend")
    func negativeSessionTTL() async throws {
        let coord = try CoordProcess()
        defer { coord.removeDirectory() }
        let range = "is negative; choose one of the session TTLs every backend accepts, 1s to 1d, such as 10s"
        let cases: [([String], String)] = [
            (["--store", "zookeeper://127.0.0.1:2181/ns", "--session-ttl", "-5s", "kv", "ls", "/"], "coord: session TTL '-5s' from --session-ttl \(range)"),
            (["--store", "etcd://127.0.0.1:2379/ns", "kv", "ls", "/", "--session-ttl", "-5s"], "coord: session TTL '-5s' from --session-ttl \(range)"),
            (["--session-ttl", "-1", "--store", "memory://", "config", "check"], "coord: session TTL '-1' from --session-ttl \(range)"),
            (["--store", "etcd://127.0.0.1:2379/ns", "--session-ttl=-5s", "kv", "ls", "/"], "coord: session TTL '-5s' from --session-ttl \(range)"),
        ]
        for (arguments, expected) in cases {
            let result = try await coord.run(arguments, timeout: .seconds(20))
            #expect(result.status == 7, "\(arguments): \(result.stderr)")
            #expect(result.stderrLines == [expected], "\(arguments): \(result.stderr)")
        }
        let environment = try CoordProcess(environment: ["COORD_SESSION_TTL": "-5s"])
        defer { environment.removeDirectory() }
        let fromEnvironment = try await environment.run(["kv", "ls", "/"])
        #expect(fromEnvironment.status == 7, "\(fromEnvironment.stderr)")
        #expect(fromEnvironment.stderrLines == ["coord: session TTL '-5s' from environment variable COORD_SESSION_TTL \(range)"])
        // Its value left out, it took the next option for it: not "negative".
        let leftOut = try await coord.run(["--session-ttl", "--json", "--store", "memory://", "kv", "ls", "/"])
        #expect(leftOut.status == 7, "\(leftOut.stderr)")
        #expect(
            leftOut.stderrLines == [
                "coord: session TTL '--json' from --session-ttl is no duration but an option's spelling: was the TTL left out? "
                    + "Give one, 1s to 1d, right after it, such as 10s"
            ], "\(leftOut.stderr)")
        // The other global options still read what follows them as before.
        let others = try await coord.run(["--session-ttl", "5s", "--log-level", "info", "--store", "memory://", "kv", "ls", "/"])
        #expect(others.status == 0, "\(others.stderr)")
    }

    @Test("a bad refinement names the setting and where it came from")
    func badRefinements() async throws {
        let coord = try CoordProcess(environment: ["COORD_SESSION_TTL": "soon"])
        defer { coord.removeDirectory() }
        let ttl = try await coord.run(["config", "check"])
        #expect(ttl.status == 7)
        #expect(ttl.stderrLines == ["coord: session TTL 'soon' from environment variable COORD_SESSION_TTL is not a duration; write one number and one unit (ms, s, m, h or d; none is seconds), like 500ms, 30s, 90m or 1d"])
        let tls = try await coord.run(["--tls-ca", "/ca.pem", "--session-ttl", "2s", "config", "check"])
        #expect(tls.status == 7)
        #expect(tls.stderrLines == ["coord: TLS file /ca.pem from --tls-ca applies only to an etcds:// store, not memory://"])
        let namespace = try await coord.run(["--namespace", "relative", "--session-ttl", "2s", "kv", "ls", "/"])
        #expect(namespace.status == 7)
        #expect(namespace.stderrLines.first?.hasPrefix("coord: namespace 'relative' from --namespace is not a valid key") == true, "\(namespace.stderr)")
    }
}
