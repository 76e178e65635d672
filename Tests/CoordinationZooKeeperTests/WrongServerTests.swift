import Coordination
import CoordinationLocalServers
import CoordinationTestSupport
@testable import CoordinationZooKeeper
import Logging
import Testing

/// A ZooKeeper URL pointed at a server that is not ZooKeeper. An HTTP server's status line,
/// read as a session handshake, once gave a "session" with a 6-day timeout, and opening then
/// failed with `connectionLoss` during the namespace's create; etcd's port gave 30 s of silence
/// and "is the server running?". Both must say what answered, promptly.
@Suite struct ZooKeeperWrongServerTests {
    /// Opens a ZooKeeper store on `hosts`, within `limit` (a bound on giving up at all, not a
    /// speed figure: the first-session wait is 30 s, and these must not need it).
    static func openingError(hosts: [String], logger: Logger? = nil, limit: Duration = .seconds(15)) async throws -> CoordinationError? {
        let configuration = ZooKeeperConfiguration(hosts: hosts, namespace: try Key("/wrong-server"), sessionTimeout: .seconds(30))
        let logger = logger ?? ZooKeeperTestEnvironment.logger
        do {
            let store = try await withDeadline("a ZooKeeper store on \(hosts) to fail to open", limit: limit) {
                try await ZooKeeperStore(configuration: configuration, logger: logger)
            }
            await store.close()
            Issue.record("a ZooKeeper store opened on \(hosts), which is not ZooKeeper")
            return nil
        } catch let error as CoordinationError where error.code != .timeout || !error.message.hasPrefix("timed out after") {
            return error
        }
    }

    @Test func anHTTPServerIsNamedAsNotZooKeeper() async throws {
        let server = try CannedHTTPServer()
        defer { server.stop() }
        let logs = CapturedLogs()
        let error = try #require(try await Self.openingError(hosts: [server.address], logger: logs.logger()))
        #expect(error.code == .unavailable, "\(error)")
        #expect(
            error.message.hasPrefix("\(server.address) did not answer as ZooKeeper does (an HTTP server answered, status 404)"),
            "\(error.message)")
        #expect(error.message.contains("is it a ZooKeeper server") && error.message.contains("usually 2181"), "\(error.message)")
        #expect(!error.message.contains("\n"))
        #expect(server.answered > 0, "the server was never asked")
        // The status line read as a handshake is no session: none is reported, with any timeout.
        let sessions = logs.lines(containing: "connected(sessionID")
        #expect(sessions.isEmpty, "\(sessions)")
    }

    @Test func theHandshakeOfAnHTTPServerIsRecognised() {
        // `HTTP/1.1 404 Not Found` read as a handshake: the timeout is the bytes " 404".
        #expect(NotZooKeeper.handshakeProblem(timeoutMilliseconds: 0x2034_3034) == "an HTTP server answered, status 404")
        #expect(NotZooKeeper.handshakeProblem(timeoutMilliseconds: 0x2032_3030) == "an HTTP server answered, status 200")
        #expect(NotZooKeeper.handshakeProblem(timeoutMilliseconds: 0x3031_2D4F)?.contains("made no sense") == true)
        #expect(NotZooKeeper.handshakeProblem(timeoutMilliseconds: 0)?.contains("made no sense") == true)
        #expect(NotZooKeeper.handshakeProblem(timeoutMilliseconds: -5)?.contains("made no sense") == true)
        // What servers negotiate: clamped to 2–20 ticks, or as much as a day when configured so.
        for timeout: Int32 in [4000, 10_000, 40_000, 86_400_000] {
            #expect(NotZooKeeper.handshakeProblem(timeoutMilliseconds: timeout) == nil, "\(timeout)")
        }
    }

    @Test func aProbeReplyIsJudgedOnlyWhenItIsHTTP() {
        #expect(NotZooKeeper.probeReplyProblem(Array("HTTP/1.1 404 Not Found\r\nA: b\r\n".utf8)) == "an HTTP server answered, status 404")
        #expect(NotZooKeeper.probeReplyProblem(Array("HTTP/1.0 501 Unsupported method ('srvr')\r\n".utf8)) == "an HTTP server answered, status 501")
        #expect(NotZooKeeper.probeReplyProblem(Array("Zookeeper version: 3.8.0\nMode: standalone\n".utf8)) == nil)
        #expect(NotZooKeeper.probeReplyProblem(Array("srvr is not executed because it is not in the whitelist.\n".utf8)) == nil)
        #expect(NotZooKeeper.probeReplyProblem([]) == nil)
    }

    /// A TLS server hangs up on `srvr`; asked with a ClientHello it answers with a TLS record.
    @Test func aTLSReplyIsJudgedOnlyWhenItIsATLSRecord() {
        #expect(NotZooKeeper.tlsReplyProblem([0x16, 0x03, 0x03, 0x00, 0x32, 0x02])?.hasPrefix("a TLS server answered") == true, "a server hello")
        #expect(NotZooKeeper.tlsReplyProblem([0x15, 0x03, 0x03, 0x00, 0x02, 0x02, 0x28])?.hasPrefix("a TLS server answered") == true, "an alert")
        #expect(NotZooKeeper.tlsReplyProblem([]) == nil)
        #expect(NotZooKeeper.tlsReplyProblem(Array("HTTP/1.1 400 Bad Request\r\n".utf8)) == nil)
        #expect(NotZooKeeper.tlsReplyProblem([0x00, 0x00, 0x00, 0x24]) == nil, "a ZooKeeper handshake reply's length")
        // The request is one well-formed record: its lengths add up.
        let request = NotZooKeeper.tlsProbeRequest
        #expect(Array(request.prefix(3)) == [0x16, 0x03, 0x01])
        #expect(Int(request[3]) << 8 | Int(request[4]) == request.count - 5)
        #expect(request[5] == 0x01 && Int(request[6]) << 16 | Int(request[7]) << 8 | Int(request[8]) == request.count - 9)
    }
}

/// A ZooKeeper URL at the real etcd's client port: etcd waits for an HTTP request line and never
/// answers the handshake, so only asking it what it is can tell. Needs etcd, not ZooKeeper.
@Suite(.serverLoadLimit)
struct ZooKeeperAtEtcdTests {
    @Test func etcdsPortIsNamedAsNotZooKeeper() async throws {
        let etcd = try #require(TestEnvironment.etcdEndpoints.first)
        try TestEnvironment.requireServer("etcd", at: etcd, variable: "ETCD_ENDPOINTS")
        let error = try #require(try await ZooKeeperWrongServerTests.openingError(hosts: [etcd]))
        #expect(error.code == .unavailable, "\(error)")
        #expect(error.message.hasPrefix("\(etcd) did not answer as ZooKeeper does (an HTTP server answered, status "), "\(error.message)")
        #expect(error.message.contains("usually 2181"), "\(error.message)")
    }
}
