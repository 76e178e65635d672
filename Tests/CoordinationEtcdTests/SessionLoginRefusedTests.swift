import Coordination
@testable import CoordinationEtcd
import Logging
import Testing

/// A session that expired while etcd came to refuse its credentials (a password changed, a user
/// removed) cannot get a new lease. Ephemeral writes used to wait a TTL for a new session that
/// could not come, then say `sessionExpired` ("a new one is being started"), again and again:
/// they now say `unauthenticated`, with etcd's refusal, at once.
@Suite struct SessionLoginRefusedTests {
    @Test func anEphemeralWriteSaysTheLoginIsRefused() async throws {
        let badLogin = #"{"error":"etcdserver: authentication failed, invalid user ID or password","message":"etcdserver: authentication failed, invalid user ID or password","code":3}"#
        let badToken = #"{"error":"etcdserver: invalid auth token","message":"etcdserver: invalid auth token","code":16}"#
        let server = try StandInGateway { request in
            switch request.path {
            // The store's first login works; the password is changed after it.
            case "/v3/auth/authenticate": request.earlier == 0 ? .answer(#"{"token":"first"}"#) : .refusal(status: 400, badLogin)
            // The first lease; the next grant meets an expired token.
            case "/v3/lease/grant": request.earlier == 0 ? .answer(#"{"ID":"7","TTL":"2"}"#) : .refusal(status: 401, badToken)
            // The lease is gone (a keep-alive answer without a TTL): the session expires.
            case "/v3/lease/keepalive": .answer(#"{"result":{"ID":"7"}}"#)
            case "/v3/lease/revoke": .answer(#"{"header":{"revision":"5"}}"#)
            default: .silent
            }
        }
        defer { server.stop() }
        let store = try await EtcdStore(
            endpoints: [server.address], ttl: .seconds(2), user: "worker", password: "old-password", logger: Logger(label: "test.etcd.login-refused"))
        try await eventually("the refused login of the new session") {
            server.requests(to: "/v3/auth/authenticate") >= 2 && store.session.state == .expired
        }
        let error = await #expect(throws: CoordinationError.self) {
            _ = try await store.create(try Key("/mine"), mode: .ephemeral)
        }
        #expect(error?.code == .unauthenticated, "\(String(describing: error))")
        #expect(error?.message.contains("refuses the login") == true, "\(String(describing: error))")
        await store.close()
    }
}
