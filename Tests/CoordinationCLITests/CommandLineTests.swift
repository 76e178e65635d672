import Foundation
import Testing

/// The `coord` binary as a user meets it: exit statuses, stdout, and the one-line stderr.
@Suite("coord command line")
struct CommandLineTests {
    @Test("a relative key is refused with a one-line message naming the key and why")
    func relativeKey() async throws {
        let coord = try CoordProcess()
        defer { coord.removeDirectory() }
        let result = try await coord.run(["kv", "get", "relative/key"])
        #expect(result.status == 6)
        #expect(result.stderrLines == ["coord: invalid key 'relative/key': a key must be absolute, starting with '/'"])
        #expect(result.stdout.isEmpty)
    }

    /// ZooKeeper's own tools create `/queue/0000000001` from `create -s /queue/`; here the
    /// refusal of the trailing '/' says what to write instead.
    @Test("a sequential key ending with '/' is refused with the prefix to write instead")
    func sequentialKeyWithTrailingSlash() async throws {
        let coord = try CoordProcess()
        defer { coord.removeDirectory() }
        let result = try await coord.run(["kv", "create", "/queue/", "--sequential"])
        #expect(result.status == 6)
        #expect(
            result.stderrLines == [
                "coord: invalid key '/queue/': a key must not end with '/'; a sequential key needs a prefix for its number: "
                    + "/queue/item- gives /queue/item-0000000000"
            ])
        let plain = try await coord.run(["kv", "create", "/queue/"])
        #expect(plain.stderrLines == ["coord: invalid key '/queue/': a key must not end with '/'"])
    }

    @Test("--version names coord's version and the client library behind each remote backend")
    func version() async throws {
        let coord = try CoordProcess()
        defer { coord.removeDirectory() }
        let result = try await coord.run(["--version"])
        #expect(result.status == 0, "\(result.stderr)")
        let lines = result.stdoutText.split(separator: "\n").map(String.init)
        #expect(lines.count == 3, "\(lines)")
        #expect(lines.first?.hasPrefix("coord 0.") == true, "\(lines)")
        #expect(lines.contains { $0.hasPrefix("zookeeper:// through libzookeeper-mt 3.") }, "\(lines)")
        #expect(lines.contains { $0.hasPrefix("etcd://, etcds:// through libcurl ") }, "\(lines)")
    }

    @Test("an unknown scheme is refused, listing the known ones")
    func unknownScheme() async throws {
        let coord = try CoordProcess()
        defer { coord.removeDirectory() }
        let result = try await coord.run(["--store", "bogus://x", "kv", "get", "/a"])
        #expect(result.status == 7)
        #expect(result.stderrLines.count == 1)
        let line = try #require(result.stderrLines.first)
        #expect(line.hasPrefix("coord: unknown store scheme 'bogus'"))
        for scheme in ["memory://", "zookeeper://", "etcd://", "etcds://"] {
            #expect(line.contains(scheme))
        }
    }

    @Test("zookeepers:// is refused saying why TLS to ZooKeeper is not served and what to use")
    func zooKeeperOverTLS() async throws {
        let coord = try CoordProcess()
        defer { coord.removeDirectory() }
        for arguments in [
            ["--store", "zookeepers://127.0.0.1:2281/app", "kv", "get", "/a"],
            ["migrate", "--from", "memory://", "--to", "zookeepers://127.0.0.1:2281/app"],
        ] {
            let result = try await coord.run(arguments)
            #expect(result.status == 7, "\(arguments)")
            #expect(result.stderrLines.count == 1, "\(result.stderr)")
            #expect(result.stderr.contains("store scheme 'zookeepers' in"), "\(result.stderr)")
            #expect(result.stderr.contains("built with OpenSSL") && result.stderr.contains("TLS tunnel"), "\(result.stderr)")
        }
    }

    /// `etcd:/127.0.0.1:2379/app` was "has no scheme", though its scheme is right there. A host
    /// list with no scheme at all was refused without the URL to write: the port tells which
    /// (2379 etcd, 2181 ZooKeeper), and without a known one both forms are given.
    @Test(
        "a scheme short of its '//' is named as such; a URL without any scheme says so and suggests the URL by its port",
        arguments: [
            ("etcd:/127.0.0.1:2379/app", "store URL 'etcd:/127.0.0.1:2379/app' lacks the '//' after 'etcd:'; write etcd://…"),
            ("ZooKeeper:", "store URL 'ZooKeeper:' lacks the '//' after 'zookeeper:'; write zookeeper://…"),
            ("127.0.0.1:2379", "store URL '127.0.0.1:2379' has no scheme; write etcd://127.0.0.1:2379; expected"),
            ("localhost:2181/app", "store URL 'localhost:2181/app' has no scheme; write zookeeper://localhost:2181/app; expected"),
            ("h1:2181,h2:2181/app", "store URL 'h1:2181,h2:2181/app' has no scheme; write zookeeper://h1:2181,h2:2181/app; expected"),
            ("db:7000/app", "store URL 'db:7000/app' has no scheme; write zookeeper://db:7000/app or etcd://db:7000/app; expected"),
            ("h1:2181,h2:2379", "store URL 'h1:2181,h2:2379' has no scheme; write zookeeper://h1:2181,h2:2379 or etcd://h1:2181,h2:2379; expected"),
            ("localhost", "store URL 'localhost' has no scheme; write zookeeper://localhost or etcd://localhost; expected"),
            ("admin:s3cret@localhost:2379/app", "store URL 'admin:***@localhost:2379/app' has no scheme; write etcd://admin:***@localhost:2379/app; expected"),
            // Not a host list short of its scheme: no URL to suggest.
            ("etcd//127.0.0.1:2379", "store URL 'etcd//127.0.0.1:2379' has no scheme; expected"),
        ])
    func schemeWithoutSlashes(url: String, problem: String) async throws {
        let coord = try CoordProcess()
        defer { coord.removeDirectory() }
        let result = try await coord.run(["--store", url, "kv", "get", "/a"])
        #expect(result.status == 7)
        #expect(result.stderrLines.count == 1 && result.stderr.hasPrefix("coord: " + problem), "\(result.stderr)")
        #expect(result.stderr.contains("expected scheme://host[:port]"), "\(result.stderr)")
        #expect(!result.stderr.contains("s3cret"), "\(result.stderr)")
    }

    @Test("a 2 MB value on stdin is refused with its size and the limit, before any connection")
    func oversizedValue() async throws {
        let coord = try CoordProcess()
        defer { coord.removeDirectory() }
        let value = [UInt8](repeating: 0x61, count: 2 * 1024 * 1024)
        // A listener that would see any connection attempt to the "remote" store.
        let server = try LoopbackListener()
        for store in ["memory://", "zookeeper://127.0.0.1:\(server.port)", "etcd://127.0.0.1:\(server.port)"] {
            let result = try await coord.run(["--store", store, "kv", "put", "/big"], input: value)
            #expect(result.status == 6, "\(store)")
            #expect(result.stderrLines == ["coord: value for /big is 2097152 bytes; the limit is 1000000 bytes"], "\(store)")
            #expect(!server.hadConnection(), "\(store)")
        }
        #expect(server.connectOnce())
        #expect(server.hadConnection())
    }

    @Test("the config file gives the store URL")
    func storeFromConfigFile() async throws {
        let coord = try CoordProcess()
        defer { coord.removeDirectory() }
        let file = try coord.write(#"{"store": "bogus://from-file"}"#, to: "coord.json")
        let result = try await coord.run(["kv", "get", "/a"])
        #expect(result.status == 7)
        #expect(result.stderrLines.count == 1)
        #expect(result.stderr.contains("'bogus://from-file'"))
        #expect(result.stderr.contains("config file \(file)"))
    }

    @Test("--config and COORD_CONFIG name the file; the user's config folder is searched last")
    func configFileLocations() async throws {
        var coord = try CoordProcess()
        defer { coord.removeDirectory() }
        _ = try coord.write(#"{"store": "bogus://home"}"#, to: ".config/coord/config.json")
        #expect(try await coord.run(["kv", "get", "/a"]).stderr.contains("'bogus://home'"))

        let named = try coord.write(#"{"store": "bogus://named"}"#, to: "named.json")
        coord.environment["COORD_CONFIG"] = named
        #expect(try await coord.run(["kv", "get", "/a"]).stderr.contains("'bogus://named'"))

        let flagged = try coord.write(#"{"store": "bogus://flagged"}"#, to: "flagged.json")
        #expect(try await coord.run(["--config", flagged, "kv", "get", "/a"]).stderr.contains("'bogus://flagged'"))

        let missing = try await coord.run(["--config", coord.directory.path + "/nope.json", "kv", "get", "/a"])
        #expect(missing.status == 7)
        #expect(missing.stderrLines == ["coord: config file \(coord.directory.path)/nope.json (from --config) does not exist"])
    }

    @Test("COORD_STORE overrides the config file, and --store overrides COORD_STORE")
    func precedence() async throws {
        var coord = try CoordProcess(environment: ["COORD_STORE": "bogus://from-env"])
        defer { coord.removeDirectory() }
        _ = try coord.write(#"{"store": "bogus://from-file"}"#, to: "coord.json")

        let fromEnvironment = try await coord.run(["kv", "get", "/a"])
        #expect(fromEnvironment.status == 7)
        #expect(fromEnvironment.stderr.contains("'bogus://from-env'"))
        #expect(fromEnvironment.stderr.contains("(from environment variable COORD_STORE)"))

        let fromFlag = try await coord.run(["kv", "get", "/a", "--store", "bogus://from-flag"])
        #expect(fromFlag.status == 7)
        #expect(fromFlag.stderr.contains("'bogus://from-flag'"))
        #expect(fromFlag.stderr.contains("(from --store)"))

        coord.environment["COORD_STORE"] = nil
        let flagBeforeCommand = try await coord.run(["--store", "bogus://first", "kv", "get", "/a"])
        #expect(flagBeforeCommand.stderr.contains("'bogus://first'"))
    }

    @Test("a malformed config file is one line naming the file", arguments: [
        #"{"store": "#, "[1, 2]", #"{"store": 42}"#,
    ])
    func malformedConfigFile(content: String) async throws {
        let coord = try CoordProcess()
        defer { coord.removeDirectory() }
        let file = try coord.write(content, to: "coord.json")
        let result = try await coord.run(["kv", "get", "/a"])
        #expect(result.status == 7)
        #expect(result.stderrLines.count == 1)
        #expect(result.stderr.hasPrefix("coord: config file \(file)"))
    }

    @Test("a config file that is not JSON, or empty, or not an object says where and what to write, not Foundation's error", arguments: [
        ("{\"store\": ", "is not valid JSON: the JSON ends early, at line 1, column 11"),
        ("", #"is not valid JSON: the file is empty; write a JSON object, e.g. {"store": "#),
        ("{\n  \"store\": \"memory://\"\n  \"logLevel\": \"info\"\n}", "is not valid JSON: unexpected text at line 3, column 3 (byte 27); is a comma or colon missing before it?"),
        ("[1, 2]", "holds JSON but not an object; write a JSON object, e.g."),
    ])
    func configFileSyntax(content: String, expected: String) async throws {
        let coord = try CoordProcess()
        defer { coord.removeDirectory() }
        let file = try coord.write(content, to: "coord.json")
        let result = try await coord.run(["kv", "get", "/a"])
        #expect(result.status == 7)
        #expect(result.stderrLines.count == 1 && result.stderr.hasPrefix("coord: config file \(file) \(expected)"), "\(result.stderr)")
        #expect(!result.stderr.contains("NSCocoaErrorDomain"))
    }

    /// A Latin-1 config file was "Invalid UTF-8 sequence 10 bytes at …": Foundation's count of the
    /// string's bytes, read as if ten bytes were bad.
    @Test("a config file string that is not UTF-8 is placed, and the fix named")
    func configFileNotUTF8() async throws {
        let coord = try CoordProcess()
        defer { coord.removeDirectory() }
        let file = coord.directory.appendingPathComponent("coord.json")
        try Data(#"{"store": "memory://caf"#.utf8 + [0xE9] + #""}"#.utf8).write(to: file)
        let result = try await coord.run(["kv", "ls", "/"])
        #expect(result.status == 7, "\(result.stderr)")
        #expect(result.stderrLines == [
            "coord: config file \(file.path) is not valid JSON: the string starting at line 1, column 12 (byte 11) holds bytes that are not UTF-8; save the file as UTF-8 text",
        ])
    }

    @Test("an unknown config key is refused by name, with the likely key, before anything is written")
    func unknownConfigKey() async throws {
        let coord = try CoordProcess()
        defer { coord.removeDirectory() }
        let file = try coord.write(#"{"stor": "zookeeper://127.0.0.1:1/x", "logLevel": "info"}"#, to: "coord.json")
        let result = try await coord.run(["kv", "put", "/a", "1"])
        #expect(result.status == 7, "a misspelt store key must not leave the write to memory://")
        #expect(result.stderrLines == [
            "coord: config file \(file) has an unknown key 'stor' (did you mean 'store'?); the keys are "
                + "store, logLevel, namespace, sessionTtl, username, password, passwordFile, tlsCa, tlsCert, tlsKey"
        ])
        _ = try coord.write(#"{"zzzzzz": 1}"#, to: "coord.json")
        let far = try await coord.run(["kv", "get", "/a"])
        #expect(far.status == 7 && far.stderr.contains("unknown key 'zzzzzz'; the keys are store,"), "\(far.stderr)")
    }

    @Test("a config key given twice, or a comma after the last member, is refused with where it is")
    func repeatedConfigKey() async throws {
        let coord = try CoordProcess()
        defer { coord.removeDirectory() }
        let file = try coord.write("{\"store\": \"zookeeper://127.0.0.1:1/x\",\n  \"logLevel\": \"info\", \"st\\u006fre\": \"memory://\"}", to: "coord.json")
        let result = try await coord.run(["kv", "put", "/a", "1"])
        #expect(result.status == 7, "\(result.stderr)")
        #expect(result.stderrLines == [
            "coord: config file \(file) is not valid JSON: key 'store' appears twice in one object (again at line 2, column 23); JSON keeps only one of them: remove the other"
        ])
        _ = try coord.write(#"{"store": "memory://",}"#, to: "coord.json")
        let comma = try await coord.run(["kv", "get", "/a"])
        #expect(comma.status == 7)
        #expect(comma.stderrLines == [
            "coord: config file \(file) is not valid JSON: a comma after the last member at line 1, column 22, before the closing }: JSON allows none there; remove it"
        ])
    }

    @Test("a bad log level names the value and where it came from")
    func badLogLevel() async throws {
        let coord = try CoordProcess(environment: ["COORD_LOG_LEVEL": "loud"])
        defer { coord.removeDirectory() }
        let result = try await coord.run(["kv", "get", "/a"])
        #expect(result.status == 7)
        #expect(result.stderrLines.count == 1)
        #expect(result.stderr.contains("'loud' from environment variable COORD_LOG_LEVEL"))
    }

    @Test("usage errors keep argument-parser's status")
    func usageError() async throws {
        let coord = try CoordProcess()
        defer { coord.removeDirectory() }
        let result = try await coord.run(["kv", "get"])
        #expect(result.status == 64)
        #expect(result.stderr.contains("Missing expected argument"))
    }

    @Test("a negative number is refused by name, not read as an unknown option", arguments: [
        (["kv", "set", "/a", "1", "--if-version", "-1"], Int32(64), "--if-version must be 0 or more"),
        (["kv", "rm", "/a", "--if-version", "-2"], 64, "--if-version must be 0 or more"),
        (["worker", "--capacity", "-1"], 64, "--capacity must be between 1 and 1024, got -1"),
        (["worker", "--grace", "-1"], 64, "--grace -1 is negative; "),
        (["worker", "--grace", "--json"], 64, "--grace --json is an option's spelling, not a duration: was the value left out? "),
        (["worker", "--weight", "-3"], 64, "--weight must be between 1 and 1000, got -3"),
        (["migrate", "--from", "memory://", "--to", "memory://x", "--concurrency", "-1"], 64, "--concurrency must be at least 1"),
    ])
    func negativeNumbers(arguments: [String], status: Int32, message: String) async throws {
        let coord = try CoordProcess()
        defer { coord.removeDirectory() }
        let result = try await coord.run(arguments)
        #expect(result.status == status)
        #expect(result.stderr.contains(message) && !result.stderr.contains("Missing value"), "\(result.stderr)")
        #expect(result.stderrLines.count == 1 && result.stderrLines[0].hasPrefix("coord: "), "coord's one line: \(result.stderr)")
    }

    @Test("--help teaches the URL forms, the environment and the exit statuses")
    func help() async throws {
        let coord = try CoordProcess()
        defer { coord.removeDirectory() }
        let result = try await coord.run(["--help"])
        #expect(result.status == 0)
        for text in ["memory://[NAME]", "zookeeper://[USER:PASSWORD@]HOST[:PORT]", "etcd[s]://[USER:PASSWORD@][HOST[:PORT]", "11  a lock, leadership or membership was lost", "COORD_STORE", "COORD_CONFIG", "in-process"] {
            #expect(result.stdoutText.contains(text), "\(text)")
        }
        // Every command that runs a command holding something forwards signals to it; the help
        // once left members --join out. Words are compared unwrapped: help wraps at 80 columns.
        let words = result.stdoutText.split(whereSeparator: \.isWhitespace).joined(separator: " ")
        #expect(words.contains("lock, elect and members --join pass a SIGINT, SIGTERM or SIGHUP on to their command"), "\(result.stdoutText)")
    }

    /// --help showed ?ttl=TIME with no word on what TIME is or on the TTL's default, and said that a
    /// bad argument is a usage error (64) while `kv get relative/key` exits 6.
    @Test("--help says what TIME is, the default session TTL and the status of a malformed key, and each holds")
    func helpTimeTTLAndKeyStatus() async throws {
        let coord = try CoordProcess()
        defer { coord.removeDirectory() }
        let help = try await coord.run(["--help"])
        let words = help.stdoutText.split(whereSeparator: \.isWhitespace).joined(separator: " ")
        for text in [
            "TIME is a duration: a number and a unit, ms, s, m, h or d (500ms, 5s, 2m; a bare number is seconds)",
            "ttl and sessionTimeout are the session TTL, 1s to 1d, 10s by default",
            "--session-ttl <duration> The session TTL, 1s to 1d, such as 5s (else COORD_SESSION_TTL, else 'sessionTtl'; 10s by default)",
            "except a malformed key or too large a value (kv get relative/key), which is 6",
        ] {
            #expect(words.contains(text), "\(text)")
        }
        let check = try await coord.run(["--store", "memory://", "config", "check"])
        #expect(check.status == 0 && check.stdoutText.contains(", TTL 10s, "), "\(check.stdoutText)")
        let fiveSeconds = try await coord.run(["--store", "memory://?ttl=5", "config", "check"])
        #expect(fiveSeconds.status == 0 && fiveSeconds.stdoutText.contains(", TTL 5s, "), "a bare number is seconds: \(fiveSeconds.stdoutText)")
        let relative = try await coord.run(["--store", "memory://", "kv", "get", "relative/key"])
        #expect(relative.status == 6, "\(relative.stderr)")
    }

    /// "has an empty or malformed host in 'h1:2181,,h2:2181'" left the user to find which.
    @Test("an empty host in a store URL's list is named, with the URL that works, status 7", arguments: [
        ("zookeeper://h1:2181,,h2:2181/ns", "has an empty host (two commas in a row: host 2 of 3 in 'h1:2181,,h2:2181'); remove the extra comma: zookeeper://h1:2181,h2:2181/ns"),
        ("etcd://h1:2379,,h2:2379/ns", "has an empty host (two commas in a row: host 2 of 3 in 'h1:2379,,h2:2379'); remove the extra comma: etcd://h1:2379,h2:2379/ns"),
        ("etcd://u:secret@h1:2379,/ns", "has an empty host (a comma at the end: host 2 of 2 in 'h1:2379,'); remove the extra comma: etcd://u:***@h1:2379/ns"),
    ])
    func emptyHostIsNamed(url: String, said: String) async throws {
        let coord = try CoordProcess()
        defer { coord.removeDirectory() }
        let result = try await coord.run(["--store", url, "kv", "get", "/a"])
        #expect(result.status == 7, "\(result.stderr)")
        let shown = url.replacingOccurrences(of: "secret", with: "***")
        #expect(result.stderrLines == ["coord: store URL '\(shown)' \(said) (from --store)"], "\(result.stderr)")
    }
}
