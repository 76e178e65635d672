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
}
