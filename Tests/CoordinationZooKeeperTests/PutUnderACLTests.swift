import Coordination
import CoordinationTestSupport
import Foundation
import Testing

/// `put` with credentials that may write a key but not create beside it: ZooKeeper checks the
/// parent's CREATE permission before it looks for the key, so the create that `put` tries first is
/// refused (`ZNOAUTH`) for a key that exists, and `coord kv put` failed where `kv set` succeeds.
@Suite(.enabled(if: ZooKeeperTestEnvironment.runServerTests, ZooKeeperTestEnvironment.skipReason), .serverLoadLimit)
struct PutUnderACLTests {
    /// Sets up, as `owner`, `<namespace>/p` (owner: all; `writer`: read) and `<namespace>/p/x`
    /// (owner: all; `writer`: read and write), or deletes the namespace's tree; through kazoo, since
    /// the store makes only creator-only ACLs.
    static let script = """
        import sys
        from kazoo.client import KazooClient
        from kazoo.security import make_digest_acl, OPEN_ACL_UNSAFE
        mode, hosts, namespace = sys.argv[1], sys.argv[2], sys.argv[3]
        zk = KazooClient(hosts=hosts, timeout=10, auth_data=[("digest", "owner:owner-pw")])
        zk.start(timeout=10)
        try:
            if mode == "setup":
                zk.create(namespace, b"", acl=OPEN_ACL_UNSAFE, makepath=True)
                owner = make_digest_acl("owner", "owner-pw", all=True)
                zk.create(namespace + "/p", b"", acl=[owner, make_digest_acl("writer", "writer-pw", read=True)])
                zk.create(namespace + "/p/x", b"old", acl=[owner, make_digest_acl("writer", "writer-pw", read=True, write=True)])
            else:
                zk.delete(namespace, recursive=True)
        finally:
            zk.stop()
            zk.close()
        """

    static func kazoo(_ mode: String, _ namespace: Key) async throws {
        try await PythonScript.require("kazoo", install: Kazoo.install)
        _ = try await PythonScript.run(script, [mode, ZooKeeperTestEnvironment.hosts.joined(separator: ","), namespace.path], input: Data())
    }

    @Test func putOverwritesAKeyTheCredentialsMayWriteButNotCreate() async throws {
        let namespace = ZooKeeperTestEnvironment.uniqueNamespace("zk-put-acl")
        try await Self.kazoo("setup", namespace)
        let writer = try await ZooKeeperTestEnvironment.openStore(namespace: namespace, user: "writer", password: "writer-pw")
        do {
            let written = try await writer.put(try Key("/p/x"), value: Array("new".utf8))
            #expect(written.string == "new")
            #expect(written.version == 1)
            #expect(try await writer.get(try Key("/p/x"))?.string == "new")
            // A key that does not exist stays refused, as the create it needs.
            do {
                _ = try await writer.put(try Key("/p/y"), value: [1])
                Issue.record("writer may not create under /p")
            } catch let error as CoordinationError {
                #expect(error.code == .permissionDenied)
                #expect(error.message.contains("refused create /p/y to user 'writer'"), "\(error.message)")
            }
        } catch {
            Issue.record(error)
        }
        await writer.close()
        try await Self.kazoo("delete", namespace)
    }
}
