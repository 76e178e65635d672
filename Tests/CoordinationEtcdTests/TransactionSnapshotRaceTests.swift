import Coordination
@testable import CoordinationEtcd
import Logging
import Synchronization
import Testing

/// A transaction that goes the two-request way (read a snapshot, then write) must not apply when
/// what it read changed in between: its write compares every key it read at the mod revision it
/// read. A stand-in gateway passes every request on to the shared etcd and, once, between the
/// snapshot read and the write, sets the checked key behind the store's back.
extension EtcdStoreTests {
    /// Whether the stand-in still has to change the key, and whether it did.
    private final class BehindTheStore: Sendable {
        let armed = Atomic<Bool>(false)
        let changes = Atomic<Int>(0)
    }

    @Test func aKeyChangedBetweenATransactionsReadAndItsWriteFailsItsCheck() async throws {
        try await withStore { direct, namespace in
            let checked = try Key("/k")
            let prefix = try Key("/q/n-")
            _ = try await direct.create(checked, value: [], mode: .persistent)
            // Moves /q's counter past what the other handle guesses: its one-request try fails,
            // and the transaction reads a snapshot.
            _ = try await direct.create(prefix, value: [], mode: .sequential)

            let forwarder = Gateway(
                hosts: SharedEtcd.endpoints, secure: false, tls: nil, user: nil, password: nil, requestTimeout: .seconds(5),
                logger: Logger(label: "test.etcd.snapshot-race"))
            let behind = BehindTheStore()
            let server = try StandInGateway { request in
                let connection = CurlConnection(tls: forwarder.tls)
                guard let body = JSONValue.parse(Array(request.body.utf8)) else { return .hangUp(thenStopListening: false) }
                do {
                    let reply = try forwarder.call(request.path, body, on: connection, kind: .write)
                    // A txn without compares is a read: the first once armed is the snapshot.
                    if request.path == "/v3/kv/txn", body["compare"] == .array([]), behind.armed.exchange(false, ordering: .relaxed) {
                        let put = EtcdRequest.put(Array(namespace.appending(checked).path.utf8), value: [1])
                        _ = try forwarder.call("/v3/kv/put", put, on: connection, kind: .write)
                        behind.changes.add(1, ordering: .relaxed)
                    }
                    return .answer(String(decoding: reply.serialized, as: UTF8.self))
                } catch {
                    return .refusal(status: 503, #"{"error":"not forwarded","message":"not forwarded","code":14}"#)
                }
            }
            defer { server.stop() }
            let store = try await SharedEtcd.open(namespace, endpoints: [server.address])
            behind.armed.store(true, ordering: .relaxed)
            let error = await #expect(throws: CoordinationError.self) {
                _ = try await store.transaction([.check(checked, version: 0), .create(prefix, value: [], mode: .sequential)])
            }
            await store.close()
            #expect(behind.changes.load(ordering: .relaxed) == 1, "the key was set between the read and the write")
            #expect(error?.code == .versionConflict, "\(String(describing: error))")
            #expect(error?.failedOperation == 0, "\(String(describing: error))")
            #expect(try await direct.children(of: try Key("/q")) == ["n-0000000000"], "the refused transaction created nothing")
        }
    }
}
