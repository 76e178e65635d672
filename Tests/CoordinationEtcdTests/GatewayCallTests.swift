import CCurl
import Coordination
import Logging
import Testing

@testable import CoordinationEtcd

/// A gateway call's decisions, driven without a server.
@Suite struct GatewayCallTests {
    let gateway = Gateway(
        hosts: ["127.0.0.1:2379"], secure: false, tls: nil, user: nil, password: nil, requestTimeout: .seconds(1),
        logger: Logger(label: "test"))
    let emptyReply = TransportFailure(code: Int(CURLE_GOT_NOTHING.rawValue), message: "Empty reply from server")

    func failedRead() -> CoordinationError? {
        var call = GatewayCall(gateway: gateway, path: "/v3/kv/range", payload: [], kind: .read, timeout: .seconds(1))
        _ = call.nextRequest()
        guard case .next = call.handle(.failure(emptyReply)), call.nextRequest() == nil else { return nil }
        return call.exhausted
    }

    @Test func anEmptyReplyOnFirstContactSuggestsTLS() throws {
        let error = try #require(failedRead())
        #expect(error.message.contains("use etcds://"), "\(error.message)")
    }

    /// An endpoint that answered plain HTTP before is no TLS port: its empty reply is a dropped connection.
    @Test func anEmptyReplyAfterAnAnswerDoesNotSuggestTLS() throws {
        var first = GatewayCall(gateway: gateway, path: "/v3/kv/range", payload: [], kind: .read, timeout: .seconds(1))
        _ = first.nextRequest()
        guard case .reply = first.handle(.success((status: 200, body: Array("{}".utf8)))) else {
            Issue.record("a 200 with a JSON object is a reply")
            return
        }
        let error = try #require(failedRead())
        #expect(!error.message.contains("etcds://"), "\(error.message)")
        #expect(error.code == .unavailable)
    }
}
