import Coordination
@testable import CoordinationEtcd
import Logging
import Testing

/// A transaction with an ephemeral create whose session is gone, and no new one comes within the
/// TTL, fails as a whole: `sessionExpired` naming no operation and no key, as on ZooKeeper (its
/// multi is refused for the session) and the embedded store, whether the store knew the lease was
/// gone before sending it or etcd found it gone during the write.
///
/// No etcd here: a real one grants a new lease at once, so the failure never outlasts the wait
/// for the new session. A scripted stand-in gateway grants one lease and never another.
@Suite("etcd transactions after a session expiry")
struct TransactionSessionExpiryTests {
    static let operations: [Operation] = [
        .create(try! Key("/plain"), value: [], mode: .persistent), .create(try! Key("/mine"), value: [], mode: .ephemeral),
    ]
    static let leaseNotFound = #"{"error":"etcdserver: requested lease not found","message":"etcdserver: requested lease not found","code":5}"#

    /// etcd answers the write that "the lease is gone"; the keeper's keep-alives still say it lives,
    /// so no new session comes.
    @Test func aLeaseFoundGoneDuringTheWriteNamesNoOperation() async throws {
        let server = try StandInGateway { request in
            switch request.path {
            case "/v3/lease/grant": .answer(#"{"ID":"7","TTL":"1"}"#)
            case "/v3/lease/keepalive": .answer(#"{"result":{"ID":"7","TTL":"1"}}"#)
            case "/v3/lease/revoke": .answer(#"{"header":{"revision":"5"}}"#)
            case "/v3/kv/txn": .refusal(status: 404, Self.leaseNotFound)
            default: .silent
            }
        }
        defer { server.stop() }
        let store = try await EtcdStore(endpoints: [server.address], ttl: .seconds(1), logger: Logger(label: "test.etcd.expiry"))
        let error = await #expect(throws: CoordinationError.self) { _ = try await store.transaction(Self.operations) }
        await store.close()
        #expect(error?.code == .sessionExpired, "\(String(describing: error))")
        #expect(error?.failedOperation == nil, "\(String(describing: error))")
        #expect(error?.key == nil, "\(String(describing: error))")
        #expect(server.requests(to: "/v3/kv/txn") >= 1, "the write went out")
    }

    /// The keeper learnt the lease is gone and its next grant is never answered: the store sends
    /// no write, and answers as when etcd finds the lease gone.
    @Test func aLeaseKnownGoneBeforeTheWriteNamesNoOperation() async throws {
        let server = try StandInGateway { request in
            switch request.path {
            case "/v3/lease/grant": request.earlier == 0 ? .answer(#"{"ID":"7","TTL":"1"}"#) : .silent
            // A keep-alive answer without a TTL: the lease is gone.
            case "/v3/lease/keepalive": .answer(#"{"result":{"ID":"7"}}"#)
            // The two-request path's read of what the transaction touches: nothing there.
            case "/v3/kv/txn": .answer(#"{"header":{"revision":"5"},"responses":[{"response_range":{}},{"response_range":{}}]}"#)
            default: .silent
            }
        }
        defer { server.stop() }
        let store = try await EtcdStore(endpoints: [server.address], ttl: .seconds(1), logger: Logger(label: "test.etcd.expiry"))
        try await eventually("the session to expire") { store.session.state == .expired }
        let error = await #expect(throws: CoordinationError.self) { _ = try await store.transaction(Self.operations) }
        await store.close()
        #expect(error?.code == .sessionExpired, "\(String(describing: error))")
        #expect(error?.failedOperation == nil, "\(String(describing: error))")
        #expect(error?.key == nil, "\(String(describing: error))")
        #expect(!server.bodies.contains { $0.contains("request_put") }, "no write went out: \(server.bodies)")
    }
}
