import Coordination
@testable import CoordinationEtcd
import Logging
import Testing

/// A keep-alive refused for its token (tokens expire) logs in again on the session's connection.
/// The login must end within the keep-alive's own time: waited for a whole request time-out
/// (10 s) while the member that took it never answered, it left no time to try again before the
/// lease ended, and the next keep-alive renewed a lease etcd had already ended by its own count.
@Suite struct KeepAliveLoginTests {
    @Test func aLoginThatIsNeverAnsweredLeavesTheKeepAliveTimeToRenewTheLease() async throws {
        let badToken = #"{"error":"etcdserver: invalid auth token","message":"etcdserver: invalid auth token","code":16}"#
        let ttl = Duration.seconds(6)
        let server = try StandInGateway { request in
            switch request.path {
            // The store's first login works; the one a keep-alive needs is never answered.
            case "/v3/auth/authenticate": request.earlier == 0 ? .answer(#"{"token":"first"}"#) : .silent
            case "/v3/lease/grant": .answer(#"{"ID":"7","TTL":"6"}"#)
            // The first keep-alive meets an expired token; the next ones go through.
            case "/v3/lease/keepalive": request.earlier == 0 ? .refusal(status: 401, badToken) : .answer(#"{"result":{"ID":"7","TTL":"6"}}"#)
            case "/v3/lease/revoke": .answer(#"{"header":{"revision":"5"}}"#)
            default: .silent
            }
        }
        defer { server.stop() }
        let store = try await EtcdStore(
            endpoints: [server.address], ttl: ttl, user: "worker", password: "secret", requestTimeout: .seconds(10),
            logger: Logger(label: "test.etcd.keepalive-login"))
        var states = store.sessionEvents().makeAsyncIterator()
        let first = try await next(&states, "the current session state")
        #expect(first.state == .connected)
        let suspended = try await next(&states, "suspended while the login is not answered")
        #expect(suspended.state == .suspended)
        let back = try await next(&states, "the lease renewed by a later keep-alive", timeout: .seconds(20))
        #expect(back.state == .reconnected)
        #expect(
            back.lastContact < first.lastContact + ttl,
            "renewed \(back.lastContact - first.lastContact) after the last contact, within the TTL of \(ttl)")
        await store.close()
    }
}
