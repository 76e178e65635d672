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
