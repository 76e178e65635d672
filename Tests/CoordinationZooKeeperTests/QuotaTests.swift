import Coordination
import CoordinationLocalServers
import CoordinationTestSupport
import Foundation
import Testing

@testable import CoordinationZooKeeper

/// A server that enforces quotas (`zookeeper.enforceQuota`, ZooKeeper 3.7+; port 22280).
@Suite(.serialized, .enabled(if: TestServer.runTests, TestServer.skipReason), .serverLoadLimit)
struct QuotaTests {
    /// A write past a hard quota on a key above is refused with a code the C client's header does
    /// not name. It said only "ZooKeeper failed create"; it names the quota and its remedy now, in
    /// a transaction too, and applies nothing. Deleting beneath the key makes room again.
    @Test func aWritePastAHardQuotaNamesTheQuotaAndItsRemedy() async throws {
        let server = try TestServer(
            id: 1, clientPort: 22280, ensemble: [], timing: .init(), systemProperties: ["zookeeper.enforceQuota": "true"])
        try await withTestServers([server]) {
            try await server.start()
            let store = try await ZooKeeperTestEnvironment.openStore(namespace: .root, hosts: [server.host])
            let root = try Key("/q")
            _ = try await store.create(root, value: [], mode: .persistent)
            // What zkCli.sh's `setquota -N 3 /q` writes: the limit, and the stats the server keeps.
            try await PythonScript.require("kazoo", install: Kazoo.install)
            _ = try await Kazoo.run(
                "write",
                [
                    "/zookeeper/quota/q/zookeeper_limits": Data("count=-1,bytes=-1,countHardLimit=3".utf8).base64EncodedString(),
                    "/zookeeper/quota/q/zookeeper_stats": Data("count=0,bytes=0".utf8).base64EncodedString(),
                ],
                hosts: [server.host])

            var created: [Key] = []
            var refusal: CoordinationError?
            for index in 0..<5 where refusal == nil {
                let key = try root.child("k\(index)")
                do {
                    _ = try await store.create(key, value: [1], mode: .persistent)
                    created.append(key)
                } catch let error as CoordinationError {
                    refusal = error
                    #expect(try await store.exists(key) == false, "a refused create applies nothing")
                }
            }
            let error = try #require(refusal, "a count limit of 3 refuses a create within 5")
            #expect(!created.isEmpty, "the quota left room for \(created.count) keys")
            #expect(error.code == .unavailable, "\(error)")
            #expect(error.message.hasPrefix("ZooKeeper at \(server.host) refused create /q/k\(created.count): "), "\(error.message)")
            for words in ["hard quota", "zookeeper.enforceQuota", "listquota", "delete keys beneath it or raise the limit"] {
                #expect(error.message.contains(words), "must say \"\(words)\": \(error.message)")
            }
            #expect(error.backendDetail?.contains("ZQUOTAEXCEEDED (-125)") == true, "\(String(describing: error.backendDetail))")

            let next = try root.child("k\(created.count)")
            let inTransaction = await #expect(throws: CoordinationError.self) {
                _ = try await store.transaction([.check(root, version: 0), .create(next, value: [], mode: .persistent)])
            }
            #expect(inTransaction?.code == .unavailable && inTransaction?.failedOperation == 1, "\(String(describing: inTransaction))")
            #expect(inTransaction?.message.contains("hard quota") == true, "\(String(describing: inTransaction))")

            try await store.delete(try #require(created.last), ifVersion: nil, recursive: false)
            _ = try await store.create(next, value: [], mode: .persistent)
            #expect(try await store.exists(next), "a delete beneath the key makes room")
            await store.close()
        }
    }

    /// A throttled request was dropped before the server applied it: named so, with what to do.
    @Test func aThrottledRequestSaysItWasNotApplied() throws {
        let error = ZooKeeperReturnCode.error(-127, key: try Key("/k"), during: "set")
        #expect(error.code == .unavailable)
        #expect(error.message == "ZooKeeper is overloaded and dropped set /k without applying it (its request throttle); try again")
        #expect(error.backendDetail == "ZooKeeper ZTHROTTLEDOP (-127) during set /k")
    }
}
