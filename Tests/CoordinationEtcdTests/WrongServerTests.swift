import Coordination
import CoordinationLocalServers
import CoordinationTestSupport
@testable import CoordinationEtcd
import Logging
import Testing

/// An etcd URL pointed at a server that is not etcd's JSON gateway. A web server's 404 with an
/// empty body once gave "etcd refused the request: " and nothing more; one with an HTML page put
/// the page, lines and all, into the one-line message.
@Suite struct EtcdWrongServerTests {
    static func openingError(_ endpoints: [String], secure: Bool = false) async throws -> CoordinationError? {
        do {
            let store = try await withDeadline("an etcd store on \(endpoints) to fail to open", limit: .seconds(15)) {
                try await EtcdStore(endpoints: endpoints, secure: secure, logger: Logger(label: "test.etcd"))
            }
            await store.close()
            Issue.record("an etcd store opened on \(endpoints), which is not etcd")
            return nil
        } catch let error as CoordinationError where !error.message.hasPrefix("timed out after") {
            return error
        }
    }

    @Test func aWebServersPageIsOneLineNamingTheEndpointStatusAndPort() async throws {
        let server = try CannedHTTPServer()
        defer { server.stop() }
        let error = try #require(try await Self.openingError([server.address]))
        #expect(error.code == .unavailable, "\(error)")
        #expect(!error.message.contains("\n") && !error.message.contains("\r"), "\(error.message)")
        #expect(error.message.contains("http://\(server.address) answered HTTP 404"), "\(error.message)")
        #expect(error.message.contains("not as an etcd v3 JSON gateway does"), "\(error.message)")
        #expect(error.message.contains("etcd's client port is usually 2379"), "\(error.message)")
        #expect(error.message.contains("<head><title>404 Not Found</title></head> <body>"), "the page, on one line: \(error.message)")
        #expect(!(error.backendDetail ?? "").contains("\n"), "\(error.backendDetail ?? "")")
    }

    @Test func anEmptyErrorReplyIsNamedToo() async throws {
        let server = try CannedHTTPServer(reply: CannedHTTPServer.reply(status: "404 Not Found", body: ""))
        defer { server.stop() }
        let error = try #require(try await Self.openingError([server.address]))
        #expect(error.code == .unavailable, "\(error)")
        #expect(error.message.contains("answered HTTP 404 with an empty body, not as an etcd v3 JSON gateway does"), "\(error.message)")
    }

    /// As `python3 -m http.server` answers a POST: 501 and a long page, cut short.
    @Test func aLongPageIsCutShort() async throws {
        let page = "<!DOCTYPE HTML>\n<html lang=\"en\">\n    <head>\n        <title>Error response</title>\n    </head>\n"
            + String(repeating: "    <body>\n        <h1>Error response</h1>\n        <p>Error code: 501</p>\n    </body>\n", count: 20)
        let server = try CannedHTTPServer(reply: CannedHTTPServer.reply(status: "501 Unsupported method ('POST')", body: page))
        defer { server.stop() }
        let error = try #require(try await Self.openingError([server.address]))
        #expect(error.code == .unavailable, "\(error)")
        #expect(!error.message.contains("\n"), "\(error.message)")
        #expect(error.message.contains("answered HTTP 501 with \"<!DOCTYPE HTML> <html lang=\"en\"> <head> <title>"), "\(error.message)")
        #expect(error.message.contains("…\", not as an etcd v3 JSON gateway does"), "\(error.message)")
        #expect(error.message.count < 400, "\(error.message.count) characters: \(error.message)")
    }

    /// A server that hangs up without a word, and does not answer a ZooKeeper handshake either,
    /// may be etcd's TLS port spoken to in plain HTTP: the hint to use etcds:// stays.
    @Test func aSilentServerThatIsNotZooKeeperKeepsTheTLSHint() async throws {
        let server = try CannedHTTPServer(reply: [])
        defer { server.stop() }
        let error = try #require(try await Self.openingError([server.address]))
        #expect(error.code == .unavailable, "\(error)")
        #expect(error.message.hasPrefix("http://\(server.address) closed the connection without a reply"), "\(error.message)")
        #expect(error.message.contains("if etcd serves TLS there, use etcds://"), "\(error.message)")
        #expect(!error.message.contains("ZooKeeper"), "\(error.message)")
    }

    /// The handshake the probe sends, and what it takes for ZooKeeper's answer (as ZooKeeper 3.8
    /// sent it): a ConnectResponse, and nothing that an HTTP or TLS server sends.
    @Test func theZooKeeperHandshakeAndItsAnswer() {
        let request = ZooKeeperProbe.connectRequest
        #expect(request.count == 49 && request.prefix(4) == [0, 0, 0, 45])
        #expect(request[4..<8] == [0, 0, 0, 0], "protocol version 0")
        #expect(request[16..<20] == [0, 0, 0x03, 0xE8], "a timeout of 1000 ms")
        #expect(request[28..<32] == [0, 0, 0, 16], "a 16-byte password")
        func bytes(_ hex: String) -> [UInt8] {
            stride(from: 0, to: hex.count, by: 2).map { UInt8(hex.dropFirst($0).prefix(2), radix: 16)! }
        }
        let answer = bytes("0000002500000000000007d0010001eac438068e00000010b9b7ad05196d8376a8d70636d243fcb800")
        #expect(ZooKeeperProbe.isConnectResponse(answer))
        #expect(ZooKeeperProbe.sessionID(answer) == 0x0100_01ea_c438_068e)
        // Without the read-only flag (older servers), and a refused session (all zero).
        #expect(ZooKeeperProbe.isConnectResponse(bytes("00000024") + Array(answer[4..<40])))
        #expect(ZooKeeperProbe.isConnectResponse(bytes("00000024") + [UInt8](repeating: 0, count: 4 + 4 + 8) + bytes("00000010")))
        #expect(!ZooKeeperProbe.isConnectResponse(Array("HTTP/1.1 400 Bad Request\r\nContent-Type: text/plain\r\n\r\n".utf8)))
        #expect(!ZooKeeperProbe.isConnectResponse(bytes("15030100020250")), "a TLS alert")
        #expect(!ZooKeeperProbe.isConnectResponse([]))
    }

    @Test func excerptsAreOneShortLine() {
        #expect(Gateway.excerpt(Array("  a\r\n\tb \u{7}c\n\n".utf8)) == "a b c")
        #expect(Gateway.excerpt(Array(String(repeating: "x ", count: 500).utf8)).count == 120)
        #expect(Gateway.excerpt(Array(String(repeating: "x ", count: 500).utf8)).hasSuffix("…"))
        #expect(Gateway.excerpt([]) == "")
    }

    /// A 200 that is no JSON at all is not etcd either; cut-off JSON is etcd's reply gone wrong.
    @Test func aPageWithStatus200IsNotEtcd() throws {
        let gateway = Gateway(
            hosts: ["127.0.0.1:8080"], secure: false, tls: nil, user: nil, password: nil, requestTimeout: .seconds(1),
            logger: Logger(label: "test"))
        func failure(_ body: String) -> CoordinationError? {
            var call = GatewayCall(gateway: gateway, path: "/v3/kv/range", payload: [], kind: .read, timeout: .seconds(1))
            _ = call.nextRequest()
            switch call.handle(.success((status: 200, body: Array(body.utf8)))) {
            case .fail(let error): return error
            // Not etcd: on to the next endpoint, and there is none.
            case .next where call.nextRequest() == nil: return call.exhausted
            default: return nil
            }
        }
        let page = try #require(failure("<html>\n<body>hi</body>\n</html>\n"))
        #expect(page.message == "http://127.0.0.1:8080 answered HTTP 200 with \"<html> <body>hi</body> </html>\", not as an etcd v3 JSON gateway does: is the URL's host:port right? etcd's client port is usually 2379")
        let cut = try #require(failure(#"{"header":{"revi"#))
        #expect(cut.message == "etcd sent a reply that could not be understood")
    }

    /// etcd's own error body is read as before: its message, on one line; a lost lease in the words every backend uses.
    @Test func etcdsOwnErrorsKeepTheirWords() {
        let body = Array(#"{"error":"etcdserver: requested lease not found","message":"etcdserver: requested lease not found","code":5}"#.utf8)
        let error = CoordinationError.gateway(Gateway.failure(status: 404, reply: body, endpoint: "http://e:2379"), kind: .write)
        #expect(error.code == .sessionExpired)
        #expect(error.message.hasPrefix("the etcd session expired (its lease is gone)"), "\(error.message)")
        #expect(error.backendDetail == "HTTP 404, gRPC code 5: etcdserver: requested lease not found")
        let denied = Array(#"{"error":"etcdserver: permission denied","message":"etcdserver: permission denied","code":7}"#.utf8)
        let refused = CoordinationError.gateway(Gateway.failure(status: 403, reply: denied, endpoint: "http://e:2379"), kind: .write)
        #expect(refused.message == "etcd at http://e:2379 refused the request: etcdserver: permission denied")
    }
}

/// An etcd URL at the real ZooKeeper's client port: ZooKeeper reads "POST" as a length and hangs up.
@Suite(.serverLoadLimit)
struct EtcdAtZooKeeperTests {
    @Test func zooKeepersPortIsNamed() async throws {
        let zookeeper = try #require(TestEnvironment.zookeeperHosts.first)
        try TestEnvironment.requireServer("ZooKeeper", at: zookeeper, variable: "ZOOKEEPER_HOSTS")
        let error = try #require(try await EtcdWrongServerTests.openingError([zookeeper]))
        #expect(error.code == .unavailable, "\(error)")
        #expect(!error.message.contains("\n"), "\(error.message)")
        #expect(
            error.message.hasPrefix("http://\(zookeeper) is a ZooKeeper server, not an etcd v3 JSON gateway (it closed the connection without a reply"),
            "\(error.message)")
        #expect(error.message.contains("etcd's client port is usually 2379"), "\(error.message)")
        // The TLS hint led on to a handshake error there: ZooKeeper's port is not etcd's in any scheme.
        #expect(!error.message.contains("etcds://"), "\(error.message)")
    }

    /// Following the old hint, etcds:// at ZooKeeper's port, gave "the TLS handshake with etcd failed".
    @Test func zooKeepersPortIsNamedOverTLSToo() async throws {
        let zookeeper = try #require(TestEnvironment.zookeeperHosts.first)
        try TestEnvironment.requireServer("ZooKeeper", at: zookeeper, variable: "ZOOKEEPER_HOSTS")
        let error = try #require(try await EtcdWrongServerTests.openingError([zookeeper], secure: true))
        #expect(error.code == .unavailable, "\(error)")
        #expect(error.message.hasPrefix("https://\(zookeeper) is a ZooKeeper server, not an etcd v3 JSON gateway (it cut off the TLS handshake"), "\(error.message)")
        #expect(error.message.contains("etcd's client port is usually 2379"), "\(error.message)")
    }

    /// etcds:// at an etcd that serves no TLS said "the TLS handshake with etcd failed; does it
    /// serve TLS on this port…?", leaving the user to find out that it does not.
    @Test func plainEtcdIsNamedOverTLS() async throws {
        let etcd = try #require(TestEnvironment.etcdEndpoints.first)
        try TestEnvironment.requireServer("etcd", at: etcd, variable: "ETCD_ENDPOINTS")
        let error = try #require(try await EtcdWrongServerTests.openingError([etcd], secure: true))
        #expect(error.code == .unavailable, "\(error)")
        #expect(
            error.message == "https://\(etcd) cut off the TLS handshake, and etcd answers plain HTTP at http://\(etcd): it serves no TLS there; "
                + "use etcd:// (or start etcd with --cert-file and --key-file for etcds://)", "\(error.message)")
        #expect(PlainEtcdProbe.isEtcdVersionReply(Array("HTTP/1.0 200 OK\r\n\r\n{\"etcdserver\":\"3.4.23\",\"etcdcluster\":\"3.4.0\"}".utf8)))
        #expect(!PlainEtcdProbe.isEtcdVersionReply(Array("HTTP/1.0 404 Not Found\r\n\r\n<html>".utf8)))
        #expect(!PlainEtcdProbe.isEtcdVersionReply([]))
    }

    /// etcd://127.0.0.1:2181,127.0.0.1:2379 used to fail at once (the session's lease grant, a
    /// write, was not sent again), where zookeeper:// with a wrong host first went on to the next.
    @Test func endpointsThatAreNotEtcdArePassedOver() async throws {
        let zookeeper = try #require(TestEnvironment.zookeeperHosts.first)
        try TestEnvironment.requireServer("ZooKeeper", at: zookeeper, variable: "ZOOKEEPER_HOSTS")
        let web = try CannedHTTPServer()
        defer { web.stop() }
        let namespace = SharedEtcd.uniqueNamespace("passed-over")
        let store = try await withDeadline("an etcd store behind two wrong endpoints to open", limit: .seconds(15)) {
            try await SharedEtcd.open(namespace, endpoints: [zookeeper, web.address] + SharedEtcd.endpoints)
        }
        do {
            let key = try Key("/k")
            _ = try await store.create(key, value: [1], mode: .persistent)
            _ = try await store.set(key, value: [2], ifVersion: 0)
            #expect(try await store.get(key)?.value == [2])
            try await store.delete(key, ifVersion: nil)
        } catch {
            await SharedEtcd.tidy([store], namespace)
            throw error
        }
        await SharedEtcd.tidy([store], namespace)
    }
}
