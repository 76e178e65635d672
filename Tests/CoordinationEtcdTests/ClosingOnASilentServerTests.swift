import Coordination
@testable import CoordinationEtcd
import CoordinationTestSupport
import Logging
import Testing

/// Closing a store is not held up by a server that accepts requests and never answers: each
/// request on a thread's own connection (the session's, a watch's) asks whether the handle is
/// closing while it waits, rather than waiting out the request time-out (a minute here, so that
/// waiting it out fails the deadline below by far).
///
/// No etcd here: a scripted stand-in gateway goes silent at the chosen request.
@Suite("closing an etcd store on a silent server")
struct ClosingOnASilentServerTests {
    static let requestTimeout = Duration.seconds(60)

    /// The session's lease is found gone and the grant of the next one is never answered: the
    /// close used to wait for that grant until the request time-out.
    @Test func closingEndsALeaseGrantWaitingOnASilentServer() async throws {
        let server = try ScriptedGateway { path, earlier in
            switch path {
            case "/v3/lease/grant": earlier == 0 ? #"{"ID":"7","TTL":"3"}"# : nil
            // A keep-alive answer without a TTL: the lease is gone, and a new one is asked for.
            case "/v3/lease/keepalive": #"{"result":{"ID":"7"}}"#
            default: nil
            }
        }
        defer { server.stop() }
        let store = try await EtcdStore(
            endpoints: [server.address], ttl: .seconds(3), requestTimeout: Self.requestTimeout, logger: Logger(label: "test.etcd.silent"))
        try await eventually("the session to ask for a new lease") { server.requests(to: "/v3/lease/grant") == 2 }
        try await withDeadline("the store to close while its lease grant waits", limit: .seconds(20)) { await store.close() }
        #expect(store.session.state == .closed)
    }
}
