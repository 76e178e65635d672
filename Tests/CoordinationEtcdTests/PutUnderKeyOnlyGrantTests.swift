import Coordination
@testable import CoordinationEtcd
import Foundation
import Logging
import CoordinationLocalServers
import CoordinationTestSupport
import Testing

/// `put` for a user whose role may read and write one key and nothing beside it, etcd's
/// counterpart of ZooKeeper's write-but-not-create ACL (`PutUnderACLTests`): the create that
/// `put` tries first compares the key's parent, which etcd counts as a read of the parent, and is
/// refused; the key exists and the user may write it, so `put` must overwrite it, as `set` does.
@Suite(.serverLoadLimit, .etcdBinary)
struct PutUnderKeyOnlyGrantTests {
    @Test func putOverwritesTheOneKeyTheRoleMayWrite() async throws {
        try await EtcdCluster.with { cluster in
            let admin = cluster.admin
            _ = try await admin.put("/grant/p", [])
            _ = try await admin.put("/grant/p/x", Array("old".utf8))
            _ = try await admin.call("/v3/auth/user/add", ["name": "root", "password": "root-pw-2"])
            _ = try await admin.call("/v3/auth/role/add", ["name": "root"])
            _ = try await admin.call("/v3/auth/user/grant", ["user": "root", "role": "root"])
            _ = try await admin.call("/v3/auth/user/add", ["name": "erin", "password": "erin-pw-4c1a"])
            _ = try await admin.call("/v3/auth/role/add", ["name": "erin"])
            _ = try await admin.call("/v3/auth/role/grant", [
                "name": "erin", "perm": ["permType": "READWRITE", "key": .bytes(Array("/grant/p/x".utf8))],
            ])
            _ = try await admin.call("/v3/auth/user/grant", ["user": "erin", "role": "erin"])
            _ = try await admin.call("/v3/auth/enable", [:])

            // At the root: a namespace would be a key of its own to check.
            let erin = try await EtcdStore(
                endpoints: cluster.endpoints, namespace: .root, user: "erin", password: "erin-pw-4c1a", requestTimeout: .seconds(5),
                logger: Logger(label: "test.etcd"))
            let written = try await erin.put(try Key("/grant/p/x"), value: Array("new".utf8))
            #expect(written.string == "new")
            #expect(written.version == 1)
            #expect(try await erin.get(try Key("/grant/p/x"))?.string == "new")
            // A key beside it stays refused, as the create it needs.
            let beside = await #expect(throws: CoordinationError.self) { _ = try await erin.put(try Key("/grant/p/y"), value: [1]) }
            #expect(beside?.code == .permissionDenied, "\(String(describing: beside))")
            await erin.close()
        }
    }
}
