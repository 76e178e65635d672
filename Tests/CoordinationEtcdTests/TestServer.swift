import Coordination
@testable import CoordinationEtcd
import Foundation
import Logging
import Testing

/// The etcd the tests use: `ETCD_ENDPOINTS` (comma-separated host:port), by default 127.0.0.1:2379.
enum SharedEtcd {
    static var endpoints: [String] {
        let text = ProcessInfo.processInfo.environment["ETCD_ENDPOINTS"] ?? ""
        let hosts = text.split(separator: ",").map { $0.trimmingCharacters(in: .whitespaces) }.filter { !$0.isEmpty }
        return hosts.isEmpty ? ["127.0.0.1:2379"] : hosts
    }

    static var isCI: Bool { ProcessInfo.processInfo.environment["CI"] == "true" }

    /// `true` when etcd answers, or under CI (where a missing server must fail the tests, not skip them).
    static func shouldRun() async -> Bool {
        if isCI { return true }
        let reachable = (try? await EtcdAdmin(endpoints: endpoints).call("/v3/maintenance/status", [:])) != nil
        if !reachable {
            print("⚠️ etcd is not reachable at \(endpoints.joined(separator: ",")) (set ETCD_ENDPOINTS): skipping etcd tests")
        }
        return reachable
    }

    /// A namespace no other test or agent uses.
    static func uniqueNamespace(_ label: String = "etcdtest") -> Key {
        try! Key("/\(label)-\(UInt64.random(in: 0...UInt64.max) & 0xFFFF_FFFF_FFFF)")
    }

    static func open(_ namespace: Key, ttl: Duration = .seconds(10), endpoints: [String]? = nil) async throws -> EtcdStore {
        try await EtcdStore(endpoints: endpoints ?? self.endpoints, namespace: namespace, ttl: ttl, logger: Logger(label: "test.etcd"))
    }

    /// Runs `body`, then closes `stores` and deletes `namespace` (see ``tidy(_:_:)``), whether
    /// `body` threw or not.
    static func using(_ stores: [EtcdStore], in namespace: Key, _ body: () async throws -> Void) async throws {
        do {
            try await body()
        } catch {
            await tidy(stores, namespace)
            throw error
        }
        await tidy(stores, namespace)
    }

    /// Closes `stores`, then deletes `namespace` and its sequence counters (kept apart from it).
    static func tidy(_ stores: [EtcdStore], _ namespace: Key) async {
        for store in stores { await store.close() }
        let admin = EtcdAdmin(endpoints: endpoints)
        try? await admin.deletePrefix(namespace.path)
        try? await admin.deletePrefix(String(decoding: KeySpace.counterBase, as: UTF8.self) + namespace.path)
    }
}

/// Direct gateway calls from outside any store (revoking a lease, compacting, reading raw bytes),
/// made on a thread of their own so no test blocks the cooperative pool.
struct EtcdAdmin: Sendable {
    var endpoints: [String]
    var secure = false
    var tls: TLSFiles? = nil
    var user: String? = nil
    var password: String? = nil

    func call(_ path: String, _ body: JSONValue) async throws -> JSONValue {
        let gateway = Gateway(
            hosts: endpoints, secure: secure, tls: tls, user: user, password: password, requestTimeout: .seconds(5),
            logger: Logger(label: "test.etcd.admin"))
        let outcome: Result<JSONValue, CoordinationError> = await withCheckedContinuation { continuation in
            Thread {
                let connection = CurlConnection(tls: gateway.tls)
                do throws(CoordinationError) {
                    if gateway.usesAuth { try gateway.authenticate(on: connection) }
                    continuation.resume(returning: .success(try gateway.call(path, body, on: connection, kind: .write)))
                } catch {
                    continuation.resume(returning: .failure(error))
                }
            }.start()
        }
        return try outcome.get()
    }

    /// Adds user `root` with `password` and the role `root` (every right), then turns auth on.
    func enableRootAuth(password: String) async throws {
        _ = try await call("/v3/auth/user/add", ["name": "root", "password": .string(password)])
        _ = try await call("/v3/auth/role/add", ["name": "root"])
        _ = try await call("/v3/auth/user/grant", ["user": "root", "role": "root"])
        _ = try await call("/v3/auth/enable", [:])
    }

    func revoke(lease: Int64) async throws {
        _ = try await call("/v3/lease/revoke", ["ID": .int64(lease)])
    }

    func put(_ key: String, _ value: [UInt8]) async throws -> Int64 {
        let reply = try await call("/v3/kv/put", EtcdRequest.put(Array(key.utf8), value: value))
        return reply["header"]?["revision"]?.int64Value ?? 0
    }

    func get(_ key: String) async throws -> KeyValue? {
        let reply = try await call("/v3/kv/range", EtcdRequest.range(Array(key.utf8)))
        return try reply["kvs"]?.arrayValue.first.map { try KeyValue(json: $0) }
    }

    /// Every etcd key starting with `prefix`, with its raw value.
    func all(prefix: String) async throws -> [KeyValue] {
        let start = Array(prefix.utf8)
        let reply = try await call("/v3/kv/range", EtcdRequest.range(start, end: KeySpace.prefixEnd(start)))
        return try reply["kvs"]?.arrayValue.map { try KeyValue(json: $0) } ?? []
    }

    func deletePrefix(_ prefix: String) async throws {
        let start = Array(prefix.utf8)
        _ = try await call("/v3/kv/deleterange", EtcdRequest.deleteRange(start, end: KeySpace.prefixEnd(start)))
    }

    func compact(to revision: Int64) async throws {
        _ = try await call("/v3/kv/compaction", ["revision": .int64(revision), "physical": true])
    }
}

/// Waits for `condition`, failing after `timeout` (a guard, not a synchronisation).
func eventually(_ what: String, timeout: Duration = .seconds(15), _ condition: () async throws -> Bool) async throws {
    let deadline = ContinuousClock.now.advanced(by: timeout)
    while try await !condition() {
        guard ContinuousClock.now < deadline else {
            Issue.record("timed out after \(timeout) waiting for \(what)")
            throw CancellationError()
        }
        try await Task.sleep(for: .milliseconds(50))
    }
}

/// The next element of `iterator`, failing after `timeout`.
func next<Element: Sendable>(
    _ iterator: inout AsyncThrowingStream<Element, any Error>.Iterator, _ what: String, timeout: Duration = .seconds(15)
) async throws -> Element {
    let box = UncheckedBox(iterator)
    let result = try await withThrowingTaskGroup(of: Element?.self) { group in
        group.addTask { try await box.value.next() }
        group.addTask {
            try await Task.sleep(for: timeout)
            return nil
        }
        let first = try await group.next()!
        group.cancelAll()
        return first
    }
    iterator = box.value
    guard let result else {
        Issue.record("timed out after \(timeout) waiting for \(what)")
        throw CancellationError()
    }
    return result
}

/// The next element of a non-throwing stream, failing after `timeout`.
func next<Element: Sendable>(
    _ iterator: inout AsyncStream<Element>.Iterator, _ what: String, timeout: Duration = .seconds(15)
) async throws -> Element {
    let box = UncheckedBox(iterator)
    let result = await withTaskGroup(of: Element?.self) { group in
        group.addTask { await box.value.next() }
        group.addTask {
            try? await Task.sleep(for: timeout)
            return nil
        }
        let first = await group.next()!
        group.cancelAll()
        return first
    }
    iterator = box.value
    guard let result else {
        Issue.record("timed out after \(timeout) waiting for \(what) (or the stream ended)")
        throw CancellationError()
    }
    return result
}

final class UncheckedBox<Value>: @unchecked Sendable {
    var value: Value
    init(_ value: Value) { self.value = value }
}
