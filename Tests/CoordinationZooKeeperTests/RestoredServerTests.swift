import Coordination
import CoordinationLocalServers
import CoordinationTestSupport
import Foundation
import Testing

@testable import CoordinationZooKeeper

/// A server that comes back with less history than its clients saw (port 22290).
@Suite(.serialized, .enabled(if: TestServer.runTests, TestServer.skipReason), .serverLoadLimit)
struct RestoredServerTests {
    /// ZooKeeper refuses a client that saw a later zxid than its own last one: a server restored
    /// from a backup, or whose data was emptied, hangs up on every reconnect of the handles it
    /// served before. The C client tried again forever, and the store stayed suspended (every
    /// call waiting, a `coord worker` idle for good) while the server served everyone else. The
    /// session is now given up once past its TTL, as expired, and a new one serves.
    @Test func aSessionRefusedByAServerWithLessHistoryIsReplaced() async throws {
        // Ticks of 250 ms let the 2 s session below be negotiated.
        let server = try TestServer(id: 1, clientPort: 22290, ensemble: [], timing: .init(tickTime: 250))
        try await withTestServers([server]) {
            try await server.start()
            let store = try await ZooKeeperTestEnvironment.openStore(namespace: .root, hosts: [server.host], sessionTimeout: .seconds(2))
            let root = try Key("/restored")
            _ = try await store.create(root, value: [], mode: .persistent)
            // History the emptied server will not have: its zxids start again from the beginning.
            for index in 0..<20 { _ = try await store.create(try root.child("k\(index)"), value: [], mode: .persistent) }
            let first = store.session.sessionID

            server.kill()
            _ = try await firstElement("suspended after the crash", of: store.sessionEvents()) { $0.state == .suspended }
            try FileManager.default.removeItem(at: server.directory.appendingPathComponent("data/version-2"))
            try await server.start()

            let expired = try await firstElement("the refused session given up", of: store.sessionEvents()) { $0.state == .expired }
            #expect(expired.sessionID == first)
            let renewed = try await firstElement("a new session", of: store.sessionEvents()) { $0.state == .connected }
            #expect(renewed.sessionID != first)
            #expect(try await store.exists(root) == false, "the server's data is what it came back with")
            let mine = try await store.create(try Key("/mine"), value: [1], mode: .ephemeral)
            #expect(mine.ownerSession == renewed.sessionID)
            await store.close()
        }
    }
}
