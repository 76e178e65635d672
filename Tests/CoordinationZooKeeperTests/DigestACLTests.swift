import Coordination
import CoordinationZooKeeper
import CoordinationLocalServers
import CoordinationTestSupport
import Testing

@Suite(.enabled(if: ZooKeeperTestEnvironment.runServerTests, ZooKeeperTestEnvironment.skipReason), .serverLoadLimit)
struct DigestACLTests {
    /// With credentials, nodes are creator-only: another identity (or none) is shut out.
    @Test func creatorOnlyACLShutsOutAnotherIdentity() async throws {
        let namespace = ZooKeeperTestEnvironment.uniqueNamespace("zk-acl")
        let alice = try await ZooKeeperTestEnvironment.openStore(namespace: namespace, user: "alice", password: "wonderland")
        let mallory = try await ZooKeeperTestEnvironment.openStore(namespace: namespace, user: "mallory", password: "guess")
        let anonymous = try await ZooKeeperTestEnvironment.openStore(namespace: namespace)
        let secretAgain = try await ZooKeeperTestEnvironment.openStore(namespace: namespace, user: "alice", password: "wonderland")
        do {
            let secret = try Key("/secret")
            _ = try await alice.create(secret, string: "s3cr3t")
            // The refusal names the user the handle gave, or says it gave none, and only the fix
            // that fits: "the credentials in use" left a user to guess which ones were given. It
            // names the server too: stores from config files and the environment may be several.
            let server = "ZooKeeper at \(ZooKeeperTestEnvironment.hosts.joined(separator: ","))"
            for (intruder, named) in [
                (mallory, "\(server) refused get /secret to user 'mallory': its ZooKeeper ACL does not grant this to that user"),
                (anonymous, "\(server) refused get /secret: no user was given, and its ZooKeeper ACL does not grant this to a client without one"),
            ] {
                await #expect(throws: CoordinationError.self) { _ = try await intruder.get(secret) }
                do {
                    _ = try await intruder.get(secret)
                } catch let error as CoordinationError {
                    #expect(error.code == .permissionDenied)
                    #expect(error.backendDetail?.contains("ZNOAUTH") == true)
                    #expect(error.message.hasPrefix(named), "\(error.message)")
                    #expect(!error.message.contains("credentials in use"), "\(error.message)")
                    #expect(
                        error.message.contains("if the password is wrong") == (intruder === mallory)
                            && error.message.contains("give a user it lets in") == (intruder === anonymous), "\(error.message)")
                }
                do {
                    _ = try await intruder.create(try Key("/intruder"), string: "x")
                    Issue.record("creating under alice's namespace must be refused")
                } catch let error as CoordinationError {
                    #expect(error.code == .permissionDenied)
                }
            }
            // The same identity on another connection is let in.
            #expect(try await secretAgain.get(secret)?.string == "s3cr3t")
        } catch {
            Issue.record(error)
        }
        for store in [alice, mallory, anonymous, secretAgain] { await store.close() }
        await ZooKeeperTestEnvironment.cleanUp(namespace, user: "alice", password: "wonderland")
    }

    /// Passwords never reach a log line (at trace level) or an error, whatever goes wrong.
    @Test func passwordsAppearInNoLogAndNoError() async throws {
        let namespace = ZooKeeperTestEnvironment.uniqueNamespace("zk-secret")
        let logs = CapturedLogs()
        func open(_ user: String, _ password: String) async throws -> ZooKeeperStore {
            try await ZooKeeperStore(
                configuration: ZooKeeperConfiguration(
                    hosts: ZooKeeperTestEnvironment.hosts, namespace: namespace, user: user, password: password),
                logger: logs.logger())
        }
        let owner = try await open("owner", "owner-pw-5e1d")
        let other = try await open("other", "other-pw-0b7c")
        var errors: [any Error] = []
        _ = try await owner.create(try Key("/private"), string: "x")
        for attempt in [
            { _ = try await other.get(try Key("/private")) },
            { _ = try await other.set(try Key("/private"), value: [1], ifVersion: nil) },
            { try await other.delete(try Key("/private"), ifVersion: nil, recursive: false) },
        ] as [@Sendable () async throws -> Void] {
            do {
                try await attempt()
                Issue.record("another identity must be refused")
            } catch {
                errors.append(error)
            }
        }
        do {
            _ = try await ZooKeeperStore(
                configuration: try ZooKeeperConfiguration(url: try StoreURL("zookeeper://owner:owner-pw-5e1d@127.0.0.1:22998/x?sessionTimeout=2s")),
                logger: logs.logger())
            Issue.record("nothing listens on port 22998")
        } catch {
            errors.append(error)
        }
        await owner.close()
        await other.close()
        await ZooKeeperTestEnvironment.cleanUp(namespace, user: "owner", password: "owner-pw-5e1d")
        #expect(errors.count == 4)
        for password in ["owner-pw-5e1d", "other-pw-0b7c"] {
            #expect(logs.lines(containing: password).isEmpty, "a password in the logs: \(logs.lines(containing: password))")
            for error in errors { #expect(!"\(error)".contains(password), "a password in an error: \(error)") }
        }
        #expect(!logs.all.isEmpty, "the stores logged at trace level, so the search above searched something")
    }
}

@Suite(.enabled(if: ZooKeeperTestEnvironment.runServerTests, ZooKeeperTestEnvironment.skipReason), .serverLoadLimit)
struct WatchPermissionTests {
    /// A watch over a subtree it may not read ends with `permissionDenied` instead of retrying forever.
    @Test func unreadableSubtreeEndsTheWatch() async throws {
        let namespace = ZooKeeperTestEnvironment.uniqueNamespace("zk-acl-watch")
        let owner = try await ZooKeeperTestEnvironment.openStore(namespace: namespace, user: "owner", password: "pw")
        let stranger = try await ZooKeeperTestEnvironment.openStore(namespace: .root)
        do {
            _ = try await owner.create(try Key("/private/data"), string: "x")
            let stream = stranger.watch(namespace.appending(try Key("/private")), scope: .subtree)
            do {
                for try await event in stream { Issue.record("unexpected event \(event)") }
                Issue.record("the watch must end with an error")
            } catch let error as CoordinationError {
                #expect(error.code == .permissionDenied)
            }
        } catch {
            Issue.record(error)
        }
        await owner.close()
        await stranger.close()
        await ZooKeeperTestEnvironment.cleanUp(namespace, user: "owner", password: "pw")
    }
}

/// Authentication on a server of the test's own that requires it (`enforce.auth`: the shared dev
/// server stays open). etcd's counterparts are in EtcdServerTests (`authWrongPassword…`).
@Suite(.serialized, .enabled(if: TestServer.runTests, TestServer.skipReason), .serverLoadLimit)
struct ZooKeeperAuthenticationTests {
    /// No user where the server requires one: `unauthenticated`, saying where the user goes, as on etcd.
    @Test func noUserOnAServerThatRequiresOneIsUnauthenticated() async throws {
        let server = try TestServer(
            id: 1, clientPort: 22230, ensemble: [], timing: .init(),
            settings: ["enforce.auth.enabled": "true", "enforce.auth.schemes": "digest"])
        try await withTestServers([server]) {
            try await server.start()
            let anonymous = await #expect(throws: CoordinationError.self) {
                let store = try await ZooKeeperTestEnvironment.openStore(namespace: try Key("/anonymous"), hosts: [server.host])
                await store.close()
            }
            #expect(anonymous?.code == .unauthenticated, "\(String(describing: anonymous))")
            #expect(
                anonymous?.message.hasPrefix("ZooKeeper at \(server.host) refused the session: it requires authentication, and no user was given") == true,
                "\(String(describing: anonymous))")
            #expect(anonymous?.message.contains("zookeeper://USER:PASSWORD@") == true, "\(String(describing: anonymous))")
            // With a user the same server lets the store in.
            let named = try await ZooKeeperTestEnvironment.openStore(namespace: try Key("/named"), hosts: [server.host], user: "alice", password: "pw")
            _ = try await named.create(try Key("/k"), value: [1], mode: .persistent)
            #expect(try await named.get(try Key("/k"))?.value == [1])
            await named.close()
        }
    }

    /// A wrong password. etcd checks passwords and says `unauthenticated`; ZooKeeper's digest
    /// scheme cannot: it accepts any user:password as an identity (the digest of both), so the
    /// server never sees a wrong password, only an identity the key's ACL does not list. The store
    /// cannot tell either (reading the ACL needs the very permission that is missing), so the
    /// code is `permissionDenied`, and its message names the wrong password as a likely cause and the fix.
    @Test func aWrongPasswordIsAnotherIdentityShutOutByTheACL() async throws {
        let namespace = ZooKeeperTestEnvironment.uniqueNamespace("zk-wrong-password")
        let owner = try await ZooKeeperTestEnvironment.openStore(namespace: namespace, user: "alice", password: "right-pw")
        do {
            _ = try await owner.create(try Key("/secret"), string: "s")
            let wrong = try await ZooKeeperTestEnvironment.openStore(namespace: namespace, user: "alice", password: "wrong-pw")
            let refused = await #expect(throws: CoordinationError.self) { _ = try await wrong.get(try Key("/secret")) }
            #expect(refused?.code == .permissionDenied, "\(String(describing: refused))")
            let server = "ZooKeeper at \(ZooKeeperTestEnvironment.hosts.joined(separator: ","))"
            #expect(refused?.message.hasPrefix("\(server) refused get /secret to user 'alice': ") == true, "\(String(describing: refused))")
            #expect(refused?.message.contains("if the password is wrong") == true, "\(String(describing: refused))")
            #expect(refused?.message.contains("check the password given for 'alice' (in the store URL or the password setting") == true, "\(String(describing: refused))")
            #expect(refused?.message.contains("wrong-pw") == false, "the password never shows")
            // The namespace's own key used to be named "/" alone, which reads as the server's root.
            let rootRefused = await #expect(throws: CoordinationError.self) { _ = try await wrong.children(of: .root) }
            #expect(
                rootRefused?.message.hasPrefix("\(server) refused list children of / (the namespace \(namespace.path)) to user 'alice': ") == true,
                "\(String(describing: rootRefused))")
            await wrong.close()
        } catch {
            Issue.record(error)
        }
        await owner.close()
        await ZooKeeperTestEnvironment.cleanUp(namespace, user: "alice", password: "right-pw")
    }
}
