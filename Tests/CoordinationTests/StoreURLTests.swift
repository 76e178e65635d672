import Coordination
import Logging
import Testing

@Suite struct StoreURLTests {
    @Test func parsesHostsNamespaceCredentialsAndOptions() throws {
        let url = try StoreURL("ZooKeeper://alice:s%3Acret@h1:2181,h2:2182/app/prod?sessionTimeout=5s&x=a%20b")
        #expect(url.scheme == "zookeeper")
        #expect(url.hosts == ["h1:2181", "h2:2182"])
        #expect(url.namespace == (try Key("/app/prod")))
        #expect(url.user == "alice")
        #expect(url.password == "s:cret")
        #expect(url.option("sessionTimeout") == "5s")
        #expect(url.option("x") == "a b")
        #expect(try url.durationOption("sessionTimeout") == .seconds(5))
    }

    @Test func descriptionNeverShowsThePassword() throws {
        let url = try StoreURL("etcd://root:hunter2@127.0.0.1:2379/ns")
        #expect(url.description == "etcd://root:***@127.0.0.1:2379/ns")
        #expect(!"\(url)".contains("hunter2"))
        #expect(StoreURL.redacted("etcd://root:hunter2@h/ns?x") == "etcd://root:***@h/ns?x")
    }

    /// `etcd://user:SeCr/et@h/ns` used to be refused as "endpoint 'user:SeCr' has port 'SeCr'";
    /// other shapes took the password's end for a namespace or an option, and quoted it.
    @Test(arguments: [
        "etcd://user:SeCr/et@127.0.0.1/ns", "zookeeper://user:SeCr?et@127.0.0.1/ns", "etcd://user:Se#Cr@h", "etcd://h1,user:SeCr/x@h2",
        "etcd://root:2024/SeCr@db1", "etcd://u:99999/SeCr@h", "etcd://u:/SeCr@h", "etcd://u:12?SeCr@h", "etcd://u:1,2/SeCr@h",
        "etcd://us/SeCr:pass@h", "etcd://u:p@ss/SeCr@h/ns",
    ])
    func aPasswordHoldingASlashOrQuestionMarkIsRefusedUnquoted(text: String) {
        do {
            _ = try StoreURL(text)
            Issue.record("\(text) was accepted")
        } catch {
            #expect(error.code == .invalidConfiguration)
            #expect(!error.message.contains("SeCr") && !error.message.contains("Se#"), "\(error.message)")
            #expect(error.message.contains("percent-encode any '/', '?' or '#' in them (%2F, %3F, %23)"), "\(error.message)")
        }
    }

    @Test func anAtSignInANamespaceIsWrittenEscapedAndInAnOptionValueAsItIs() throws {
        #expect(try StoreURL("etcd://h:2379/team%40x").namespace == (try Key("/team@x")))
        #expect(try StoreURL("memory://name/a%40b").namespace == (try Key("/a@b")))
        #expect(try StoreURL("etcds://h/ns?cacert=/home/me@corp/ca.pem").option("cacert") == "/home/me@corp/ca.pem")
        #expect(try StoreURL("etcd://[::1]:2379/ns").hosts == ["[::1]:2379"])
        #expect(throws: CoordinationError.self) { try StoreURL("etcd://h:2379/team@x") }
    }

    /// `--session-ttl 99999999999999999999d` trapped converting the milliseconds to Int64 (and,
    /// before numbers were digits only, `1e300s` and `?ttl=1e30`). `0x10`, `1e3ms` and the other
    /// spellings of a number that Swift's `Double` reads were taken as durations.
    @Test(
        "a duration's text: what it is, or what is wrong with it, in the same words everywhere",
        arguments: [
            ("1.5s", "ok 1500"), ("250ms", "ok 250"), ("\t5s ", "ok 5000"), ("0.5s", "ok 500"), ("2m", "ok 120000"), ("5", "ok 5000"), ("1d", "ok 86400000"),
            ("0s", "is not positive; "), ("-5s", "is negative; "), ("-.5s", "is negative; "), ("soon", "is not a duration; "),
            // An option taking any next word whose value was left out took the next option: not "negative".
            ("--json", "is an option's spelling, not a duration: was the value left out? "), ("--", "is an option's spelling, not a duration: "),
            ("1h30m", "is not a duration; write one number and one unit (ms, s, m, h or d; none is seconds), like 500ms, 30s, 90m or 1d (for 1h30m write 90m)"),
            ("99999999d", "is more than 100 years; "), ("99999999999999999999d", "is more than 100 years; "),
            (String(repeating: "9", count: 400), "is more than 100 years; "),
            ("0x10", "is not a duration; write one number and one unit (ms, s, m, h or d; none is seconds), like 500ms, 30s, 90m or 1d (the number in digits, with a point for a fraction: 1.5s)"),
            ("1e3ms", "is not a duration; "), ("1e300s", "is not a duration; "), ("1e30", "is not a duration; "), ("+5s", "is not a duration; "),
            (".5s", "is not a duration; "), ("5.s", "is not a duration; "), ("1.2.3s", "is not a duration; "), ("infs", "is not a duration; "),
            ("nan", "is not a duration; "), ("5 s", "is not a duration; "), ("\u{661}s", "is not a duration; "),
        ])
    func durationText(text: String, expected: String) {
        switch DurationText.positive(text) {
        case .success(let duration):
            #expect(expected == "ok \(duration.components.seconds * 1000 + duration.components.attoseconds / 1_000_000_000_000_000)", "\(text)")
        case .failure(let problem):
            #expect(problem.description.hasPrefix(expected) && !expected.hasPrefix("ok"), "\(text): \(problem)")
        }
        if !expected.hasPrefix("ok") && !expected.hasPrefix("is not positive") { #expect(DurationText.parse(text) == nil, "\(text)") }
    }

    @Test func urlDurationsSayWhatIsWrong() {
        #expect {
            try StoreURL("etcd://h/ns?ttl=1h30m").sessionTTLOption("ttl")
        } throws: { ($0 as? CoordinationError)?.message.hasSuffix("(for 1h30m write 90m)") == true }
        #expect(throws: CoordinationError.self) { try StoreURL("memory://?ttl=1e30").sessionTTLOption("ttl") }
    }

    @Test func emptyForms() throws {
        let url = try StoreURL("memory://")
        #expect(url.hosts.isEmpty)
        #expect(url.namespace == .root)
        #expect(try StoreURL("memory:///").namespace == .root)
        #expect(try StoreURL("memory://name").hosts == ["name"])
    }

    @Test(arguments: [
        ("localhost:2181", "no scheme"),
        ("://h", "malformed scheme"),
        ("etcd://h1,,h2", "has an empty host (two commas in a row: host 2 of 3 in 'h1,,h2'); remove the extra comma: etcd://h1,h2"),
        ("etcd://h1, h2", "empty or malformed host in 'h1, h2'; list hosts as h1:port,h2:port"),
        ("memory://a b", "empty or malformed store name in 'a b'; a store name has no spaces or commas"),
        ("etcd://h/%2e%2e/x", "invalid namespace"),
        ("etcd://h/a//b", "invalid namespace"),
        ("etcd://h/a%zz", "percent-escape"),
        ("etcd://h/a#frag", "fragment"),
        ("etcd://h/zookeeper", "reserved"),
        ("etcd://h/ns?ttl=5s&ttl=3s", "gives option 'ttl' twice; give it once"),
        // A host list cut by its namespace, or a ZooKeeper connect string's chroot written after
        // each host, opened a namespace named after the other hosts and reached the first only.
        ("zookeeper://127.0.0.1:2181/app,127.0.0.1:2182", "has hosts after its namespace ('/app,127.0.0.1:2182'): every host comes first, then the namespace, once; write zookeeper://127.0.0.1:2181,127.0.0.1:2182/app"),
        ("zookeeper://u:pw@zk1:2181/app,zk2:2181/app,zk3:2181/app?sessionTimeout=5s", "write zookeeper://u:***@zk1:2181,zk2:2181,zk3:2181/app?sessionTimeout=5s"),
        ("etcd://e1:2379/,e2:2379", "write etcd://e1:2379,e2:2379"),
        ("etcds://e1/app,[::1]:2379", "write etcds://e1,[::1]:2379/app"),
    ])
    func rejectsMalformedURLs(text: String, reason: String) {
        do {
            _ = try StoreURL(text)
            Issue.record("\(text) was accepted")
        } catch {
            #expect(error.code == .invalidConfiguration)
            #expect(error.message.contains(reason), "\(error.message)")
        }
    }

    @Test func optionsAreCheckedByTheBackend() throws {
        let url = try StoreURL("memory://?ttl=5s&tll=3")
        do {
            try url.requireOptions(in: ["ttl"])
            Issue.record("unknown option accepted")
        } catch {
            #expect(error.message.contains("'tll'") && error.message.contains("known options: ttl"))
        }
        #expect(throws: CoordinationError.self) { try StoreURL("memory://?ttl=soon").durationOption("ttl") }
        #expect(throws: CoordinationError.self) { try StoreURL("memory://?ttl=0").durationOption("ttl") }
    }

    @Test("a server scheme's host without a port gets the backend's well-known one; memory names are left alone")
    func missingPortsGetTheDefault() throws {
        #expect(try StoreURL("zookeeper://h1,h2:2182/ns").hosts == ["h1:2181", "h2:2182"])
        #expect(try StoreURL("etcd://127.0.0.1/ns").hosts == ["127.0.0.1:2379"])
        #expect(try StoreURL("etcds://u:pw@e1,[::1],[fe80::1]:2380").hosts == ["e1:2379", "[::1]:2379", "[fe80::1]:2380"])
        #expect(try StoreURL("etcd://[::1]:2379").description == "etcd://[::1]:2379")
        #expect(try StoreURL("etcd:///ns").hosts.isEmpty, "no host at all is the backend's to default")
        #expect(try StoreURL("memory://name").hosts == ["name"])
    }

    @Test func aNamespaceWithACommaButNoHostAfterItIsKept() throws {
        #expect(try StoreURL("zookeeper://zk1:2181/a,b").namespace == Key("/a,b"))
        #expect(try StoreURL("etcd://e1/a,b:c/d").namespace == Key("/a,b:c/d"))
        #expect(try StoreURL("memory://x/a,b:1").namespace == Key("/a,b:1"), "memory:// has no hosts to misplace")
    }

    @Test(arguments: [
        ("etcd://127.0.0.1:abc", "endpoint '127.0.0.1:abc' has port 'abc', not a number from 1 to 65535"),
        ("zookeeper://127.0.0.1:abc/ns", "endpoint '127.0.0.1:abc' has port 'abc'"),
        ("zookeeper://127.0.0.1:99999", "endpoint '127.0.0.1:99999' has port '99999'"),
        ("etcd://h:0", "endpoint 'h:0' has port '0'"),
        ("etcd://h:+80", "endpoint 'h:+80' has port '+80'"),
        ("etcds://h:", "endpoint 'h:' has no port after its ':'"),
        ("zookeeper://h:2181,:2182", "endpoint ':2182' has no host"),
        ("zookeeper://::1:2181", "more than one ':'; an IPv6 address goes in brackets"),
        ("etcd://[::1:2379", "never closes it"),
        ("etcd://[host]:2379", "not an IPv6 address"),
        ("etcd://[::1]2379", "where ':port' belongs"),
        ("etcd://h%C3%A9:2379", "with a character no host name"),
    ])
    func refusesMalformedEndpointsByName(text: String, reason: String) {
        do {
            _ = try StoreURL(text)
            Issue.record("\(text) was accepted")
        } catch {
            #expect(error.code == .invalidConfiguration)
            #expect(error.message.contains(reason), "\(error.message)")
            #expect(error.message.contains("write each endpoint as host:port"), "\(error.message)")
        }
    }

    @Test("a session TTL outside 1s to 1d is refused by every URL, naming the option and the range")
    func sessionTTLRange() throws {
        #expect(try StoreURL("memory://?ttl=1s").sessionTTLOption("ttl") == .seconds(1))
        #expect(try StoreURL("memory://?ttl=1d").sessionTTLOption("ttl") == .seconds(86_400))
        #expect(try StoreURL("memory://").sessionTTLOption("ttl") == nil)
        for (text, name) in [("ttl=1ms", "ttl"), ("ttl=999ms", "ttl"), ("sessionTimeout=20d", "sessionTimeout"), ("ttl=1000d", "ttl"), ("ttl=25h", "ttl")] {
            let error = #expect(throws: CoordinationError.self, "\(text)") { try StoreURL("zookeeper://h:2181?" + text).sessionTTLOption(name) }
            #expect(error?.code == .invalidConfiguration)
            #expect(error?.message.hasPrefix("store URL option \(text) is outside the session TTLs every backend accepts, 1s to 1d") == true, "\(error?.message ?? "")")
            #expect(error?.message.contains("ZooKeeper clamps it") == true && error?.message.contains("etcd raises it") == true)
        }
        #expect(throws: CoordinationError.self) { try CoordinationLimits.validate(sessionTTL: .milliseconds(1)) }
        #expect(throws: Never.self) { try CoordinationLimits.validate(sessionTTL: .seconds(10)) }
    }

    @Test func unknownSchemeListsTheKnownOnes() async throws {
        let registry = StoreRegistry([
            StoreBackend(schemes: ["alpha"], usage: "alpha://") { _, _ in throw CoordinationError(.unsupported, "x") },
            StoreBackend(schemes: ["beta", "betas"], usage: "beta://") { _, _ in throw CoordinationError(.unsupported, "x") },
        ])
        #expect(registry.knownSchemes == ["alpha", "beta", "betas"])
        do {
            _ = try await registry.open("bogus://x", logger: Logger(label: "test"))
            Issue.record("opened an unknown scheme")
        } catch let error as CoordinationError {
            #expect(error.code == .invalidConfiguration)
            #expect(error.message == "unknown store scheme 'bogus' in 'bogus://x'; known schemes: alpha://, beta://, betas://")
        }
    }

    @Test func aSchemeABackendNamesButCannotServeIsRefusedWithItsReason() async throws {
        let registry = StoreRegistry([
            StoreBackend(schemes: ["alpha"], usage: "alpha://", unservedSchemes: ["alphas": "no TLS here; use a tunnel"]) { _, _ in
                throw CoordinationError(.unsupported, "x")
            }
        ])
        #expect(registry.knownSchemes == ["alpha"])
        #expect(registry.schemeRefusal(try StoreURL("alpha://x"), in: "here") == nil)
        for url in ["alphas://x", "ALPHAS://x"] {
            do {
                _ = try await registry.open(url, logger: Logger(label: "test"))
                Issue.record("opened \(url)")
            } catch let error as CoordinationError {
                #expect(error.code == .invalidConfiguration)
                #expect(error.message == "store scheme 'alphas' in '\(try StoreURL(url))' is not served: no TLS here; use a tunnel")
            }
        }
    }
}

@Suite struct DurationTextTests {
    @Test(arguments: [
        ("250ms", Duration.milliseconds(250)), ("5s", .seconds(5)), ("1.5s", .milliseconds(1500)),
        ("2m", .seconds(120)), ("1h", .seconds(3600)), ("1d", .seconds(86400)), ("3", .seconds(3)),
    ])
    func parses(text: String, expected: Duration) {
        #expect(DurationText.parse(text) == expected)
    }

    @Test(arguments: ["", "soon", "-1s", "5x", "ms", "nan", "0x10", "1e3", "1E3ms", "+5", ".5", "5.", "inf", "0x1p4s"])
    func rejects(text: String) {
        #expect(DurationText.parse(text) == nil)
    }

    @Test func formatsForPeople() {
        #expect(DurationText.format(.milliseconds(250)) == "250ms")
        #expect(DurationText.format(.seconds(5)) == "5s")
        #expect(DurationText.format(.milliseconds(1500)) == "1.5s")
        #expect(DurationText.format(.seconds(120)) == "2m")
        #expect(DurationText.format(.seconds(5400)) == "90m")
        #expect(DurationText.format(.seconds(7200)) == "2h")
        #expect(DurationText.format(.seconds(86_400)) == "1d")
        #expect(DurationText.format(.seconds(129_600)) == "36h")
    }
}
