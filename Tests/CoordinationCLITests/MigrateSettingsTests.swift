import Coordination
import CoordinationLocalServers
import Foundation
import Logging
import Testing
@testable import CoordinationCLI

/// The global settings (session TTL, credentials, TLS files) applied to `coord migrate`'s two
/// URLs: which reach which URL, and what a URL says itself winning.
@Suite("coord migrate: global settings on both stores", .serverLoadLimit)
struct MigrateSettingsTests {
    static let password = "pw-\(UUID().uuidString.prefix(8))"

    /// A scratch folder holding a password file (with the trailing newline editors add).
    static func withPasswordFile(_ body: (String) async throws -> Void) async throws {
        let folder = FileManager.default.temporaryDirectory.appendingPathComponent("coord-migrate-settings-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: folder) }
        let file = folder.appendingPathComponent("password").path
        try Data((password + "\n").utf8).write(to: URL(fileURLWithPath: file))
        try await body(file)
    }

    /// `--from` and `--to` as `coord migrate` refines them with these settings.
    static func refined(
        _ from: String, _ to: String, flags: [CoordConfiguration.Refinement: String] = [:], environment: [String: String] = [:]
    ) async throws -> (source: StoreURL, target: StoreURL) {
        let configuration = try await CoordConfiguration.resolve(
            flags: .init(refinements: flags), environment: environment, currentDirectory: "/nonexistent")
        return try await MigrateCommand.storeURLs(from: from, to: to, configuration: configuration)
    }

    static func options(_ url: StoreURL) -> [String] { url.options.map { "\($0.name)=\($0.value)" } }

    @Test("each setting reaches each URL where it fits its scheme: TLS files etcds:// only, credentials never memory://")
    func settingsReachBothWhereTheyFit() async throws {
        try await Self.withPasswordFile { file in
            let flags: [CoordConfiguration.Refinement: String] = [.sessionTtl: "3s", .username: "root", .passwordFile: file, .tlsCa: "/ca.pem"]
            let (zk, etcds) = try await Self.refined("zookeeper://zk:2181/a", "etcds://e1:2379/b", flags: flags)
            #expect(zk.user == "root" && zk.password == Self.password)
            #expect(Self.options(zk) == ["ttl=3s"], "no TLS file for ZooKeeper")
            #expect(etcds.user == "root" && etcds.password == Self.password)
            #expect(Self.options(etcds) == ["ttl=3s", "cacert=/ca.pem"])

            let (etcd, memory) = try await Self.refined("etcd://e1/a", "memory://x", flags: [.sessionTtl: "3s", .username: "root", .passwordFile: file])
            #expect(etcd.user == "root" && etcd.password == Self.password)
            #expect(memory.user == nil && memory.password == nil, "memory:// takes no credentials")
            #expect(Self.options(memory) == ["ttl=3s"])
        }
        // The environment (and so the config file: the same layers) works as the flags do.
        let (source, target) = try await Self.refined(
            "etcd://e1/a", "zookeeper://zk/b", environment: ["COORD_USERNAME": "app", "COORD_PASSWORD": "envpw", "COORD_SESSION_TTL": "4s"])
        #expect(source.user == "app" && source.password == "envpw" && Self.options(source) == ["ttl=4s"])
        #expect(target.user == "app" && target.password == "envpw" && Self.options(target) == ["ttl=4s"])
    }

    @Test("what a URL says itself wins: its user and password, ttl or sessionTimeout, TLS files")
    func theURLWins() async throws {
        try await Self.withPasswordFile { file in
            let flags: [CoordConfiguration.Refinement: String] = [
                .sessionTtl: "3s", .username: "root", .passwordFile: file, .tlsCa: "/ca.pem", .tlsCert: "/cert.pem",
            ]
            let (zk, etcds) = try await Self.refined(
                "zookeeper://alice:own@zk/a?sessionTimeout=5s", "etcds://bob@e1/b?ttl=7s&cacert=/mine.pem", flags: flags)
            #expect(zk.user == "alice" && zk.password == "own")
            #expect(Self.options(zk) == ["sessionTimeout=5s"])
            #expect(etcds.user == "bob" && etcds.password == Self.password, "the URL names the user; the password is the setting's")
            #expect(Self.options(etcds) == ["ttl=7s", "cacert=/mine.pem", "cert=/cert.pem"])

            // The user in one URL, the password in a file: only that store logs in.
            let (etcd, open) = try await Self.refined("etcd://root@e1/a", "zookeeper://zk/b", flags: [.passwordFile: file])
            #expect(etcd.user == "root" && etcd.password == Self.password)
            #expect(open.user == nil && open.password == nil, "no user for it: no password either")
        }
    }

    @Test("a setting that fits neither URL, or a bad one, is refused naming it and its source, never the password")
    func settingsThatFitNeitherAreRefused() async throws {
        func refusal(_ from: String, _ to: String, _ flags: [CoordConfiguration.Refinement: String], environment: [String: String] = [:]) async -> String? {
            do {
                _ = try await Self.refined(from, to, flags: flags, environment: environment)
                return nil
            } catch let error as CoordinationError {
                #expect(error.code == .invalidConfiguration)
                #expect(!error.message.contains("s3cret"), "\(error.message)")
                return error.message
            } catch {
                return "\(error)"
            }
        }
        let tls = await refusal("zookeeper://zk/a", "etcd://e1/b", [.tlsCa: "/ca.pem"])
        #expect(tls == "TLS file /ca.pem from --tls-ca applies only to an etcds:// store, and neither --from (zookeeper://) nor --to (etcd://) is one")
        let user = await refusal("memory://a", "memory://b", [.username: "root"])
        #expect(user?.hasPrefix("user 'root' from --username applies to ZooKeeper and etcd stores") == true, "\(user ?? "accepted")")
        // From the environment the same settings are left out, as for one store (they were refused, 7).
        let exported = try await Self.refined(
            "memory://a", "zookeeper://zk/b", environment: ["COORD_USERNAME": "root", "COORD_TLS_CA": "/ca.pem"])
        #expect(exported.target.user == nil, "a user with no password for it is not given to the ZooKeeper URL")
        #expect(exported.target.options.allSatisfy { $0.name != "cacert" })
        let memoryOnly = try await Self.refined("memory://a", "memory://b", environment: ["COORD_USERNAME": "root"])
        #expect(memoryOnly.source.user == nil && memoryOnly.target.user == nil)
        // A password with no user for it: refused from a flag, left unused (with a note) from the
        // environment, which may hold it for another store.
        let noUser = try await Self.refined("etcd://e1/a", "zookeeper://zk/b", environment: ["COORD_PASSWORD": "s3cret"])
        #expect(noUser.source.password == nil && noUser.target.password == nil)
        try await Self.withPasswordFile { file in
            let fromFlag = await refusal("etcd://e1/a", "zookeeper://zk/b", [.passwordFile: file])
            #expect(fromFlag?.contains("needs a user name, and neither --from (etcd://) nor --to (zookeeper://) names one") == true, "\(fromFlag ?? "accepted")")
        }
        // Between two memory:// stores, a password is refused from a flag and left unused from the environment.
        try await Self.withPasswordFile { file in
            let onMemory = await refusal("memory://a", "memory://b", [.passwordFile: file])
            #expect(onMemory?.contains("from --password-file applies to ZooKeeper and etcd stores, and neither") == true, "\(onMemory ?? "accepted")")
        }
        let memoryPair = try await Self.refined("memory://a", "memory://b", environment: ["COORD_PASSWORD": "s3cret"])
        #expect(memoryPair.source.password == nil && memoryPair.target.password == nil)
        let ttl = await refusal("memory://a", "memory://b", [.sessionTtl: "0s"])
        #expect(ttl == "session TTL '0s' from --session-ttl is not positive; write one number and one unit (ms, s, m, h or d; none is seconds), like 500ms, 30s, 90m or 1d")
        // Given by both URLs, a setting is not refused: it fits, and the URLs win.
        let (etcds, _) = try await Self.refined("etcds://e1/a?cacert=/mine.pem", "zookeeper://zk/b", flags: [.tlsCa: "/ca.pem"])
        #expect(Self.options(etcds) == ["cacert=/mine.pem"])
    }

    // MARK: - As a process

    @Test("coord migrate: --session-ttl 0s or TLS files without etcds:// are refused, status 7; --session-ttl 3s reaches both opened stores")
    func sessionTTLAsAProcess() async throws {
        let coord = try CoordProcess()
        defer { coord.removeDirectory() }
        let refused = try await coord.run(["migrate", "--from", "memory://a", "--to", "memory://b", "--session-ttl", "0s"])
        #expect(refused.status == 7, "\(refused.stderr)")
        #expect(refused.stderrLines == ["coord: session TTL '0s' from --session-ttl is not positive; write one number and one unit (ms, s, m, h or d; none is seconds), like 500ms, 30s, 90m or 1d"])
        let tls = try await coord.run(["migrate", "--from", "memory://a", "--to", "memory://b", "--tls-ca", "/ca.pem"])
        #expect(tls.status == 7, "\(tls.stderr)")

        let logged = try await coord.run(["--log-level", "debug", "migrate", "--from", "memory://a", "--to", "memory://b?ttl=9s", "--session-ttl", "3s"])
        #expect(logged.status == 0, "\(logged.stderr)")
        let line = try #require(logged.stderrLines.first { $0.contains("stores resolved") }, "\(logged.stderr)")
        #expect(line.contains("from=memory://a?ttl=3s") && line.contains("to=memory://b?ttl=9s"), "\(line)")
    }

    @Test("an etcd with auth enabled: refused without credentials (10); --username and --password-file reach both stores; a URL's own password wins; the password never shows", .etcdBinary)
    func etcdWithAuth() async throws {
        let cluster = EtcdCluster(size: 1, folderPrefix: "coord-migrate-auth-")
        defer { cluster.stopAll() }
        try await cluster.start(cluster.members[0])
        try await cluster.waitUntilServing()
        let endpoint = cluster.endpoints[0], port = cluster.members[0].clientPort
        let source = try await CommandContext.registry.open(try StoreURL("etcd://\(endpoint)/app"), logger: Logger(label: "test.migrate"))
        for index in 0..<20 { _ = try await source.create(try Key("/k\(index)"), value: Array("value \(index)".utf8)) }
        await source.close()
        for (path, body) in [
            ("/v3/auth/user/add", #"{"name":"root","password":"\#(Self.password)"}"#), ("/v3/auth/role/add", #"{"name":"root"}"#),
            ("/v3/auth/user/grant", #"{"user":"root","role":"root"}"#), ("/v3/auth/enable", "{}"),
        ] {
            _ = try #require(await LoopbackHTTP.postJSON(port: port, path: path, body: body, timeout: .seconds(5)), "\(path)")
        }

        let coord = try CoordProcess()
        defer { coord.removeDirectory() }
        let file = try coord.write(Self.password + "\n", to: "password")
        let from = "etcd://\(endpoint)/app", to = "etcd://\(endpoint)/copy"
        func expectNoPassword(_ result: CoordProcess.Result) {
            #expect(!result.stderr.contains(Self.password) && !result.stdoutText.contains(Self.password), "the password never shows")
            #expect(!result.stderr.contains("wrong-pw"), "nor a URL's")
        }

        let anonymous = try await coord.run(["migrate", "--from", from, "--to", to])
        #expect(anonymous.status == 10, "\(anonymous.stderr)")
        #expect(anonymous.stderr.hasPrefix("coord: cannot open the source store \(from)"), "\(anonymous.stderr)")

        let copied = try await coord.run([
            "--log-level", "debug", "migrate", "--from", from, "--to", to, "--username", "root", "--password-file", file, "--verify",
        ])
        #expect(copied.status == 0, "\(copied.stderr)")
        #expect(copied.stdoutText.contains("copied 20 keys"), "\(copied.stdoutText)")
        #expect(copied.stdoutText.contains(": identical"), "\(copied.stdoutText)")
        #expect(copied.stderr.contains("from=etcd://root:***@\(endpoint)/app"), "\(copied.stderr)")
        expectNoPassword(copied)

        // The target's URL gives its own (wrong) password: it wins over the file, and is refused.
        let wrong = try await coord.run([
            "migrate", "--from", from, "--to", "etcd://root:wrong-pw@\(endpoint)/other", "--username", "root", "--password-file", file,
        ])
        #expect(wrong.status == 10, "\(wrong.stderr)")
        #expect(wrong.stderr.hasPrefix("coord: cannot open the target store etcd://root:***@\(endpoint)/other"), "\(wrong.stderr)")
        expectNoPassword(wrong)

        // The user in the source's URL and the password in the environment; memory:// gets none.
        let withEnvironment = try CoordProcess(environment: ["COORD_PASSWORD": Self.password])
        defer { withEnvironment.removeDirectory() }
        let toMemory = try await withEnvironment.run(["migrate", "--from", "etcd://root@\(endpoint)/app", "--to", "memory://", "--verify"])
        #expect(toMemory.status == 0, "\(toMemory.stderr)")
        #expect(toMemory.stdoutText.contains("copied 20 keys"), "\(toMemory.stdoutText)")
        expectNoPassword(toMemory)
    }
}
