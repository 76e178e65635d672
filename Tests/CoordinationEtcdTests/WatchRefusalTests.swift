import Coordination
@testable import CoordinationEtcd
import Logging
import Testing

/// A watch stream that etcd refuses for credentials: retrying with the same (or no) credentials
/// cannot cure it, so the watch ends with the refusal's code, as its snapshot read would.
@Suite("an etcd watch refused for its credentials")
struct WatchRefusalTests {
    @Test("etcd 3.4's cancel reasons are read as the gRPC status they state")
    func cancelReasonsAreRead() {
        #expect(
            WatchRefusal(cancelReason: "rpc error: code = Unauthenticated desc = etcdserver: invalid auth token")
                == WatchRefusal(grpcCode: 16, message: "etcdserver: invalid auth token"))
        #expect(
            WatchRefusal(cancelReason: "rpc error: code = InvalidArgument desc = etcdserver: user name is empty")
                == WatchRefusal(grpcCode: 3, message: "etcdserver: user name is empty"))
        #expect(WatchRefusal(cancelReason: "rpc error: code = PermissionDenied desc = etcdserver: permission denied")?.grpcCode == 7)
        #expect(WatchRefusal(cancelReason: "something else entirely") == nil)
        #expect(WatchRefusal(cancelReason: "rpc error: code = NoSuchCode desc = x") == nil)
    }

    /// A store without credentials whose server turned auth on: each watch stream is refused, in
    /// either of etcd's two forms. The watch used to try again for ever (with a pause after the
    /// canceled form, at once after the error form: a busy loop of requests), never telling.
    @Test(arguments: [
        #"{"result":{"header":{"revision":"5"},"watch_id":"-1","created":true,"canceled":true,"cancel_reason":"rpc error: code = InvalidArgument desc = etcdserver: user name is empty"}}"#,
        #"{"error":{"grpc_code":16,"http_code":401,"message":"etcdserver: invalid auth token","http_status":"Unauthorized"}}"#,
    ])
    func aWatchWithoutCredentialsEndsUnauthenticated(refusal: String) async throws {
        let server = try StandInGateway.scripted { path, _ in
            switch path {
            case "/v3/lease/grant": #"{"ID":"7","TTL":"10"}"#
            case "/v3/lease/keepalive": #"{"result":{"ID":"7","TTL":"10"}}"#
            case "/v3/lease/revoke": #"{"header":{"revision":"5"}}"#
            case "/v3/kv/txn": #"{"header":{"revision":"5"},"responses":[{"response_range":{}},{"response_range":{}}]}"#
            case "/v3/watch": refusal + "\n"
            default: nil
            }
        }
        defer { server.stop() }
        let store = try await EtcdStore(endpoints: [server.address], logger: Logger(label: "test.etcd.watch-refusal"))
        var events = store.watch(try Key("/w")).makeAsyncIterator()
        guard case .snapshot = try await next(&events, "the snapshot") else {
            Issue.record("the first event must be a snapshot")
            return
        }
        do {
            let event = try await next(&events, "the refused watch to end")
            Issue.record("the watch must end with the refusal, not go on: \(event)")
        } catch let error as CoordinationError {
            #expect(error.code == .unauthenticated, "\(error)")
        }
        #expect(server.requests(to: "/v3/watch") == 1, "a refusal retrying cannot cure is not sent again")
        await store.close()
    }

    /// A watch refused for its expired token logs in again. A login that fails for want of
    /// contact (a time-out here, an election's "no leader" alike) is no verdict on the
    /// credentials: the watch tries again, as after a dropped stream. It used to end with that
    /// failure, and its consumer heard no more.
    @Test func aLoginThatTimesOutIsTriedAgain() async throws {
        let refusal = #"{"result":{"header":{"revision":"5"},"watch_id":"-1","created":true,"canceled":true,"cancel_reason":"rpc error: code = Unauthenticated desc = etcdserver: invalid auth token"}}"#
        let event = #"{"result":{"header":{"revision":"6"},"created":true,"events":[{"kv":{"key":"L3c=","create_revision":"6","mod_revision":"6","version":"1","value":"Bw=="}}]}}"#
        let server = try StandInGateway.scripted { path, earlier in
            switch path {
            // The watch's first login is never answered; the next one is.
            case "/v3/auth/authenticate": earlier == 1 ? nil : #"{"token":"t\#(earlier)"}"#
            case "/v3/lease/grant": #"{"ID":"7","TTL":"10"}"#
            case "/v3/lease/keepalive": #"{"result":{"ID":"7","TTL":"10"}}"#
            case "/v3/lease/revoke": #"{"header":{"revision":"5"}}"#
            case "/v3/kv/txn": #"{"header":{"revision":"5"},"responses":[{"response_range":{}},{"response_range":{}}]}"#
            // Refused until a login succeeds (the first two streams), then a write.
            case "/v3/watch": earlier < 2 ? refusal + "\n" : earlier == 2 ? event + "\n" : nil
            default: nil
            }
        }
        defer { server.stop() }
        let store = try await EtcdStore(
            endpoints: [server.address], user: "watcher", password: "secret", requestTimeout: .seconds(1),
            logger: Logger(label: "test.etcd.watch-refusal"))
        var events = store.watch(try Key("/w")).makeAsyncIterator()
        guard case .snapshot = try await next(&events, "the snapshot") else {
            Issue.record("the first event must be a snapshot")
            return
        }
        let written = try await next(&events, "the write after the watch logged in again")
        guard case .put(let record) = written else {
            Issue.record("expected the write, got \(written)")
            return
        }
        #expect(record.key == (try Key("/w")) && record.value == [7] && record.modRevision == 6)
        #expect(server.requests(to: "/v3/auth/authenticate") == 3, "the session's login, the one never answered, the one that worked")
        await store.close()
    }
}
