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
        let server = try StandInGateway.scripted { path, earlier in
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

    /// A watch whose token expired (a 401 on its stream) logs in again, and the login is never
    /// answered: the watch used to go on waiting for it after the store closed, until the request
    /// time-out.
    @Test func closingEndsAWatchLoggingInAgainOnASilentServer() async throws {
        let server = try StandInGateway.scripted { path, earlier in
            switch path {
            case "/v3/auth/authenticate": earlier == 0 ? #"{"token":"first"}"# : nil
            case "/v3/lease/grant": #"{"ID":"7","TTL":"10"}"#
            case "/v3/lease/keepalive": #"{"result":{"ID":"7","TTL":"10"}}"#
            case "/v3/lease/revoke": #"{"header":{"revision":"5"}}"#
            case "/v3/kv/txn": #"{"header":{"revision":"5"},"responses":[{"response_range":{}},{"response_range":{}}]}"#
            case "/v3/watch":
                #"{"error":{"grpc_code":16,"http_code":401,"message":"etcdserver: invalid auth token","http_status":"Unauthorized"}}"# + "\n"
            default: nil
            }
        }
        defer { server.stop() }
        let store = try await EtcdStore(
            endpoints: [server.address], user: "watcher", password: "secret", requestTimeout: Self.requestTimeout,
            logger: Logger(label: "test.etcd.silent"))
        let (snapshots, snapshot) = AsyncStream<Void>.makeStream()
        let watching = Task {
            for try await event in store.watch(try Key("/w")) {
                if case .snapshot = event { snapshot.yield() }
            }
        }
        var snapshotsSeen = snapshots.makeAsyncIterator()
        _ = try await next(&snapshotsSeen, "the watch's snapshot")
        try await eventually("the watch to log in again") { server.requests(to: "/v3/auth/authenticate") == 2 }
        await store.close()
        let ending = try await withDeadline("the watch to end after the handle closed", limit: .seconds(20)) { await watching.result }
        switch ending {
        case .success: Issue.record("the watch must end with closed, not quietly")
        case .failure(let error): #expect((error as? CoordinationError)?.code == .unavailable, "\(error)")
        }
    }
}
