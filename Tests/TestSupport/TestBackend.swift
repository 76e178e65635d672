import Coordination
import CoordinationMemory
import CoordinationZooKeeper
@testable import CoordinationEtcd
import Foundation
import Logging
import Synchronization
import Testing

/// One backend that tests above the protocol (recipes, scheduler, CLI) run on: how to open a
/// handle on it and how to make a handle's session expire the way the server would.
public struct TestBackend: Sendable, CustomTestStringConvertible {
    public let name: String
    /// Skips (locally) or fails (under CI) when the backend's server is missing.
    public let require: @Sendable () throws -> Void
    /// Opens a handle with a session of its own under `namespace`.
    public let open: @Sendable (_ namespace: Key, _ ttl: Duration) async throws -> any CoordinationStore
    /// Ends `store`'s session as the server would after its TTL.
    public let expire: @Sendable (_ store: any CoordinationStore) async throws -> Void
    /// The store URL for `namespace`, for tests that start `coord` processes.
    public let url: @Sendable (_ namespace: Key) -> String?
    /// The URL option that sets the session TTL (`ttl=2s`, `sessionTimeout=2s`).
    public var ttlOption: String = "ttl"

    /// The store URL for `namespace` with a session TTL, for tests that start `coord` processes.
    public func url(_ namespace: Key, ttl: Duration) -> String? {
        url(namespace).map { "\($0)?\(ttlOption)=\(DurationText.format(ttl))" }
    }

    public var testDescription: String { name }

    /// Every backend; tests on a backend whose server is missing skip locally and fail under CI.
    public static let all: [TestBackend] = [memory, zookeeper, etcd]

    /// The embedded store: one in-process server for the whole test run.
    public static let memory: TestBackend = {
        let server = MemoryServer()
        return TestBackend(
            name: "memory",
            require: {},
            open: { namespace, ttl in try await server.connect(namespace: namespace, sessionTTL: ttl) },
            expire: { store in
                guard let store = store as? MemoryStore else { throw unexpected(store, "MemoryStore") }
                await store.expireSession()
            },
            url: { _ in nil })
    }()

    /// The ZooKeeper at `ZOOKEEPER_HOSTS`, each handle through a relay of its own; expiry cuts the
    /// relay and closes the session from a second handle that took over its id and password
    /// (``ZooKeeperSessionDrill``). The server raises session timeouts below 2 s to 2 s.
    public static let zookeeper: TestBackend = {
        var backend = TestBackend(
            name: "zookeeper",
            require: {
                try TestEnvironment.requireServer(
                    "ZooKeeper", at: TestEnvironment.zookeeperHosts[0], variable: "ZOOKEEPER_HOSTS")
            },
            open: { namespace, ttl in
                try await ZooKeeperSessionDrill.open(
                    hosts: TestEnvironment.zookeeperHosts, namespace: namespace, sessionTimeout: max(ttl, .seconds(2)),
                    logger: Logger(label: "test.zookeeper"))
            },
            expire: { store in
                guard let store = store as? ZooKeeperStore else { throw unexpected(store, "ZooKeeperStore") }
                try await ZooKeeperSessionDrill.expire(store)
            },
            url: { namespace in
                "zookeeper://\(TestEnvironment.zookeeperHosts.joined(separator: ","))\(namespace.isRoot ? "" : namespace.path)"
            })
        backend.ttlOption = "sessionTimeout"
        return backend
    }()

    /// The etcd at `ETCD_ENDPOINTS`; expiry revokes the handle's lease from outside.
    public static let etcd = TestBackend(
        name: "etcd",
        require: {
            try TestEnvironment.requireServer("etcd", at: TestEnvironment.etcdEndpoints[0], variable: "ETCD_ENDPOINTS")
        },
        open: { namespace, ttl in
            try await EtcdStore(
                endpoints: TestEnvironment.etcdEndpoints, namespace: namespace, ttl: ttl, logger: Logger(label: "test.etcd"))
        },
        expire: { store in
            guard let store = store as? EtcdStore else { throw unexpected(store, "EtcdStore") }
            // Between two leases (a previous expiry not yet replaced) there is nothing to revoke.
            guard let lease = store.leaseID else { return }
            do {
                try await EtcdLeaseRevoker(endpoints: TestEnvironment.etcdEndpoints).revoke(lease)
            } catch let error as CoordinationError where error.code == .sessionExpired {
                // Already revoked by an earlier expiry; the store has not leased anew yet.
            }
        },
        url: { namespace in "etcd://\(TestEnvironment.etcdEndpoints.joined(separator: ","))\(namespace.isRoot ? "" : namespace.path)" })

    static func unexpected(_ store: any CoordinationStore, _ expected: String) -> CoordinationError {
        CoordinationError(.unsupported, "cannot expire a \(type(of: store)) session here: expected a \(expected)")
    }

    /// A namespace no other test uses.
    public static func freshNamespace(_ label: String) -> Key {
        let safe = label.prefix { $0.isLetter || $0.isNumber || $0 == "-" }
        return (try? Key("/test-\(safe)-\(UInt32.random(in: 0...UInt32.max))")) ?? .root
    }

    /// Deletes a test's namespace, its own key included, through a handle at the store's root: a
    /// handle inside it can delete only what lies beneath, and every test run then left an empty
    /// key per test behind on the servers it used. Best effort, as cleanup is.
    public func removeNamespace(_ namespace: Key) async {
        guard !namespace.isRoot, let cleaner = try? await open(.root, .seconds(10)) else { return }
        try? await cleaner.delete(namespace, ifVersion: nil, recursive: true)
        await cleaner.close()
    }

    /// Closes `store` and removes its namespace (``removeNamespace(_:)``).
    public func discard(_ store: any CoordinationStore) async {
        await store.close()
        await removeNamespace(store.namespace)
    }
}

/// Revokes an etcd lease through the gateway, on a thread of its own (as etcd does when the TTL ends).
struct EtcdLeaseRevoker: Sendable {
    let endpoints: [String]

    func revoke(_ lease: Int64) async throws {
        let gateway = Gateway(
            hosts: endpoints, secure: false, tls: TLSFiles(caCertificate: nil, clientCertificate: nil, clientKey: nil),
            user: nil, password: nil, requestTimeout: .seconds(5), logger: Logger(label: "test.etcd.revoke"))
        let outcome: Result<Void, CoordinationError> = await withCheckedContinuation { continuation in
            Thread {
                let connection = CurlConnection(tls: gateway.tls)
                do throws(CoordinationError) {
                    _ = try gateway.call("/v3/lease/revoke", ["ID": .int64(lease)], on: connection, kind: .write)
                    continuation.resume(returning: .success(()))
                } catch {
                    continuation.resume(returning: .failure(error))
                }
            }.start()
        }
        try outcome.get()
    }
}

/// Opens handles for one test on one backend, and at the end deletes the test's namespace and
/// closes every handle.
public final class TestHandles: Sendable {
    public let backend: TestBackend
    public let namespace: Key
    public let ttl: Duration
    private let opened = Mutex<[any CoordinationStore]>([])

    public init(_ backend: TestBackend, ttl: Duration = .seconds(3), test: String = #function) throws {
        try backend.require()
        self.backend = backend
        self.ttl = ttl
        self.namespace = TestBackend.freshNamespace(String(test.prefix { $0 != "(" }))
    }

    public func open() async throws -> any CoordinationStore {
        let store = try await backend.open(namespace, ttl)
        opened.withLock { $0.append(store) }
        return store
    }

    public func closeAll() async {
        let stores = opened.withLock { stores in
            defer { stores = [] }
            return stores
        }
        for store in stores { await store.close() }
        await backend.removeNamespace(namespace)
    }
}

extension TestHandles {
    /// Runs `body`, then closes every handle opened through `handles` and removes their
    /// namespaces, whether `body` returned or threw.
    public static func closing<Result>(
        _ handles: TestHandles..., body: () async throws -> Result
    ) async throws -> Result {
        do {
            let result = try await body()
            for handle in handles { await handle.closeAll() }
            return result
        } catch {
            for handle in handles { await handle.closeAll() }
            throw error
        }
    }
}
