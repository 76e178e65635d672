import Coordination
import Foundation
import Logging

/// A bare libcurl loop doing etcd3gw's work: the floor `coord bench` holds ``EtcdStore`` to.
///
/// The same sequential creates, gets, sets and deletes the benchmark runs through the store, made
/// the way etcd3gw makes them (a create is a txn whose only compare says the key is new, then a
/// put; a get a range; a set a put; a delete a delete-range), each a blocking request on one
/// kept-alive connection (the store's curl options) on a thread of its own. Against etcd3gw it
/// shows what a bare synchronous C client of the JSON gateway gets on this server. Beside it the
/// store's figures show what the store adds: the hand-off between its request thread and the
/// caller's task, records, and the contract's checks (a create's parents exist, a delete's key has
/// no children, each as more compares in a txn). The bench runs it in chunks interleaved with the
/// store's own loop, like every baseline.
package final class EtcdSyncLoop: SyncOperationLoop, @unchecked Sendable {
    // Only ever used by one thread at a time: each call runs on a fresh thread and is awaited
    // before the next one starts.
    private let gateway: Gateway
    private let connection: CurlConnection
    /// The etcd key the loop's keys go beneath, as stored (the namespace's path included).
    package let folder: String
    private let value: [UInt8]

    private init(gateway: Gateway, folder: String, value: [UInt8]) {
        self.gateway = gateway
        connection = CurlConnection(tls: gateway.tls)
        self.folder = folder
        self.value = value
    }

    /// Connects (signing in when the configuration has a user) and runs `warmup` untimed rounds
    /// of the four operations on keys beneath the etcd key `folder`.
    package static func open(
        configuration: EtcdConfiguration, folder: String, warmup: Int, value: [UInt8]
    ) async throws(CoordinationError) -> EtcdSyncLoop {
        try await OwnThread.run { () throws(CoordinationError) -> EtcdSyncLoop in
            let tls = TLSFiles(
                caCertificate: configuration.caCertificate, clientCertificate: configuration.clientCertificate,
                clientKey: configuration.clientKey)
            let gateway = Gateway(
                hosts: configuration.endpoints, secure: configuration.secure, tls: tls, user: configuration.user,
                password: configuration.password, requestTimeout: configuration.requestTimeout,
                logger: Logger(label: "coordination.etcd.sync-loop"))
            let loop = EtcdSyncLoop(gateway: gateway, folder: folder, value: value)
            if gateway.usesAuth { try gateway.authenticate(on: loop.connection) }
            try loop.warmUp(warmup)
            return loop
        }
    }

    /// Removes whatever is left beneath the folder.
    package func close() async {
        await OwnThread.run { [self] () -> Void in
            let start = Array("\(folder)/".utf8)
            _ = try? gateway.call(
                "/v3/kv/deleterange", EtcdRequest.deleteRange(start, end: KeySpace.prefixEnd(start)), on: connection, kind: .write)
        }
    }

    package func perform(_ operation: String, _ key: String) throws(CoordinationError) {
        let etcdKey = Array(key.utf8)
        let succeeded: Bool
        switch operation {
        case "create":
            let reply = try gateway.call(
                "/v3/kv/txn",
                EtcdRequest.txn(
                    compare: [EtcdRequest.compare(etcdKey, .create, .equal, 0)],
                    success: [["request_put": EtcdRequest.put(etcdKey, value: value)]]),
                on: connection, kind: .write)
            succeeded = try TxnReply(reply, from: .write).succeeded
        case "get":
            let reply = try gateway.call("/v3/kv/range", EtcdRequest.range(etcdKey), on: connection, kind: .read)
            succeeded = try !reply.rangeKeyValues(from: .read).isEmpty
        case "set":
            _ = try gateway.call("/v3/kv/put", EtcdRequest.put(etcdKey, value: value), on: connection, kind: .write)
            succeeded = true
        default:
            let reply = try gateway.call("/v3/kv/deleterange", EtcdRequest.deleteRange(etcdKey), on: connection, kind: .write)
            succeeded = try reply.deletedCount(from: .write) == 1
        }
        guard succeeded else {
            throw CoordinationError(.unavailable, "\(operation) \(key) did not take effect in the libcurl loop")
        }
    }
}
