import Coordination
@testable import CoordinationEtcd
import Logging
import Synchronization
import Testing

/// A keep-alive refused for its token (tokens expire) logs in again on the session's connection.
/// The login must end within the keep-alive's own time: waited for a whole request time-out
/// while the member that took it never answered, it left no time to try again before the lease
/// ended, and the next keep-alive renewed a lease etcd had already ended by its own count.
///
/// The request time-out here is a minute, ten TTLs: the renewal must come long before it (the
/// keep-alive's own time is 2 s), which tells the two apart however slow the machine. Checking
/// the renewal against the TTL itself left a margin of 2 s, which a full test run's load once
/// used up.
@Suite struct KeepAliveLoginTests {
    @Test func aLoginThatIsNeverAnsweredLeavesTheKeepAliveTimeToRenewTheLease() async throws {
        let badToken = #"{"error":"etcdserver: invalid auth token","message":"etcdserver: invalid auth token","code":16}"#
        let ttl = Duration.seconds(6)
        // The session keeps its lease from the grant on, whenever the test's task gets to watch
        // it: the token expires only once the test watches, or a late task saw `reconnected` first.
        let tokenExpiry = Mutex(TokenExpiry.notYet)
        let server = try StandInGateway { request in
            switch request.path {
            // The store's first login works; the one a keep-alive needs is never answered.
            case "/v3/auth/authenticate": request.earlier == 0 ? .answer(#"{"token":"first"}"#) : .silent
            case "/v3/lease/grant": .answer(#"{"ID":"7","TTL":"6"}"#)
            // The first keep-alive after the test watches meets an expired token; the next ones go through.
            case "/v3/lease/keepalive":
                tokenExpiry.withLock { $0.refusesNext() } ? .refusal(status: 401, badToken) : .answer(#"{"result":{"ID":"7","TTL":"6"}}"#)
            case "/v3/lease/revoke": .answer(#"{"header":{"revision":"5"}}"#)
            default: .silent
            }
        }
        defer { server.stop() }
        let store = try await EtcdStore(
            endpoints: [server.address], ttl: ttl, user: "worker", password: "secret", requestTimeout: .seconds(60),
            logger: Logger(label: "test.etcd.keepalive-login"))
        var states = store.sessionEvents().makeAsyncIterator()
        let first = try await next(&states, "the current session state")
        #expect(first.state == .connected)
        tokenExpiry.withLock { $0 = .due }
        let suspended = try await next(&states, "suspended while the login is not answered")
        #expect(suspended.state == .suspended)
        // Well within the request time-out: the login gave up when the keep-alive's time ran out.
        let back = try await next(&states, "the lease renewed by a later keep-alive", timeout: .seconds(30))
        #expect(back.state == .reconnected)
        #expect(
            back.lastContact - first.lastContact < .seconds(30),
            "renewed \(back.lastContact - first.lastContact) after the last contact, half the request time-out")
        await store.close()
    }

    enum TokenExpiry {
        case notYet, due, past

        /// Whether this keep-alive is the one refused: the first once the expiry is due.
        mutating func refusesNext() -> Bool {
            guard self == .due else { return false }
            self = .past
            return true
        }
    }
}
