import Coordination
import CoordinationTestSupport
import Testing

/// `coord migrate` from a ZooKeeper tree holding a znode the credentials may not list said "the
/// credentials in use may not list the foreign keys under /acl": the listing's start rather than
/// the znode refused, and in the migration's jargon rather than as a listing of children.
@Suite(.enabled(if: ZooKeeperTestEnvironment.runServerTests, ZooKeeperTestEnvironment.skipReason), .serverLoadLimit)
struct ForeignKeysUnderACLTests {
    @Test func aRefusedListingNamesTheZnodeRefused() async throws {
        let namespace = ZooKeeperTestEnvironment.uniqueNamespace("zk-foreign-acl")
        let anonymous = try await ZooKeeperTestEnvironment.openStore(namespace: namespace)
        let alice = try await ZooKeeperTestEnvironment.openStore(namespace: namespace, user: "alice", password: "wonderland")
        do {
            _ = try await anonymous.create(try Key("/open"), string: "")
            // Alice's znodes are hers alone: anonymous may list /open but not /open/secret.
            _ = try await alice.create(try Key("/open/secret/child"), string: "x")
            _ = try await anonymous.foreignKeys(under: try Key("/open"))
            Issue.record("listing beneath alice's znode must be refused")
        } catch let error as CoordinationError {
            #expect(error.code == .permissionDenied, "\(error)")
            #expect(error.message.contains("refused list the children of /open/secret: "), "\(error.message)")
        }
        await anonymous.close()
        await alice.close()
        await ZooKeeperTestEnvironment.cleanUp(namespace, user: "alice", password: "wonderland")
    }
}
