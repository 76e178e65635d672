import Coordination
import CoordinationLocalServers
import CoordinationTestSupport
import Testing

@testable import CoordinationZooKeeper

/// A server whose `jute.maxbuffer` is set below the portable limits (port 22260).
@Suite(.serialized, .enabled(if: TestServer.runTests, TestServer.skipReason), .serverLoadLimit)
struct RequestLimitTests {
    /// ZooKeeper drops the connection on a request over its `jute.maxbuffer` and says nothing the
    /// client could report: every kind of write only loses contact. The error then names the
    /// request's size and the server setting to check; nothing was written, the session lives on.
    @Test func aWriteOverTheServersRequestLimitSaysWhatToCheck() async throws {
        let server = try TestServer(
            id: 1, clientPort: 22260, ensemble: [], timing: .init(), systemProperties: ["jute.maxbuffer": "200000"])
        try await withTestServers([server]) {
            try await server.start()
            let store = try await ZooKeeperTestEnvironment.openStore(namespace: try Key("/jute"), hosts: [server.host])
            let key = try Key("/k"), other = try Key("/other")
            let fits = [UInt8](repeating: 1, count: 150_000)
            _ = try await store.create(key, value: fits, mode: .persistent)
            let session = store.session.sessionID
            let large = [UInt8](repeating: 2, count: 300_000)
            let writes: [(String, () async throws -> Void)] = [
                ("set", { _ = try await store.set(key, value: large, ifVersion: nil) }),
                ("create", { _ = try await store.create(other, value: large, mode: .persistent) }),
                ("transaction", { _ = try await store.transaction([.set(key, value: large, ifVersion: nil)]) }),
            ]
            for (what, write) in writes {
                // A read waits for the client to be back in contact (it queues requests while it
                // reconnects), where a transaction refuses at once while contact is lost.
                #expect(try await store.get(key)?.value == fits)
                let error = await #expect(throws: CoordinationError.self, "\(what)") { try await write() }
                #expect(error?.code == .connectionLoss, "\(what): \(String(describing: error))")
                for words in ["carried 3000", "jute.maxbuffer"] {
                    #expect(error?.message.contains(words) == true, "\(what) must say \"\(words)\": \(String(describing: error))")
                }
            }
            #expect(try await store.get(key)?.value == fits)
            #expect(try await store.exists(other) == false)
            #expect(store.session.sessionID == session, "contact lost, never the session")
            await store.close()
        }
    }

    /// Only a large write that lost contact names the limit: a small one lost contact for other
    /// reasons, and a refusal is a refusal whatever the size.
    @Test func onlyALargeWriteThatLostContactNamesTheLimit() throws {
        let key = try Key("/k")
        let lost = ZooKeeperReturnCode.error(-4, key: key, during: "set")
        let large = ZooKeeperReturnCode.largeRequestBytes
        #expect(ZooKeeperReturnCode.hintingAtRequestLimit(lost, requestBytes: large).message.contains("jute.maxbuffer"))
        #expect(ZooKeeperReturnCode.hintingAtRequestLimit(lost, requestBytes: large - 1) == lost)
        let refused = ZooKeeperReturnCode.error(-103, key: key, during: "set")
        #expect(ZooKeeperReturnCode.hintingAtRequestLimit(refused, requestBytes: 500_000) == refused)
    }
}
