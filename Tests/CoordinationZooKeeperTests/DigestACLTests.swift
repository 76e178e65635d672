import Coordination
import CoordinationZooKeeper
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
            for intruder in [mallory, anonymous] {
                await #expect(throws: CoordinationError.self) { _ = try await intruder.get(secret) }
                do {
                    _ = try await intruder.get(secret)
                } catch let error as CoordinationError {
                    #expect(error.code == .permissionDenied)
                    #expect(error.backendDetail?.contains("ZNOAUTH") == true)
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
