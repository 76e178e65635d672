import Coordination
import CoordinationTestSupport
import CoordinationZooKeeper
import Foundation
import Logging
import Testing

/// Where the tests find ZooKeeper, and whether they may skip when it is not there.
enum ZooKeeperTestEnvironment {
    /// `ZOOKEEPER_HOSTS` (comma-separated host:port), or the local default.
    static let hosts: [String] = {
        let text = ProcessInfo.processInfo.environment["ZOOKEEPER_HOSTS"] ?? "127.0.0.1:2181"
        return text.split(separator: ",").map { $0.trimmingCharacters(in: .whitespaces) }.filter { !$0.isEmpty }
    }()

    /// Under CI a missing server fails the tests instead of skipping them.
    static let isCI = ProcessInfo.processInfo.environment["CI"] == "true"

    /// `true` when some host accepts a TCP connection (checked once).
    static let serverReachable: Bool = hosts.contains { canConnect(to: $0) }

    /// Whether server tests run: always under CI (so that they fail loudly), else when reachable.
    static let runServerTests = isCI || serverReachable

    static let skipReason: Comment = "ZooKeeper is not reachable at \(hosts.joined(separator: ",")) (set ZOOKEEPER_HOSTS); skipped locally, fails under CI=true"

    static let logger: Logger = {
        var logger = Logger(label: "coordination.zookeeper.tests")
        logger.logLevel = .warning
        return logger
    }()

    /// A fresh namespace no other test or agent uses.
    static func uniqueNamespace(_ label: String = "zk-test") -> Key {
        try! Key("/\(label)-\(UInt64.random(in: 0...UInt64.max) % 1_000_000_000_000)")
    }

    static func openStore(
        namespace: Key, hosts: [String] = hosts, sessionTimeout: Duration = .seconds(6), user: String? = nil,
        password: String? = nil
    ) async throws -> ZooKeeperStore {
        try await ZooKeeperStore(
            configuration: ZooKeeperConfiguration(
                hosts: hosts, namespace: namespace, sessionTimeout: sessionTimeout, user: user, password: password),
            logger: logger)
    }

    /// A store whose session a test can end from the server's side (``ZooKeeperSessionDrill``).
    static func openRelayedStore(namespace: Key, sessionTimeout: Duration = .seconds(6)) async throws -> ZooKeeperStore {
        try await ZooKeeperSessionDrill.open(hosts: hosts, namespace: namespace, sessionTimeout: sessionTimeout, logger: logger)
    }

    /// Runs `body` with a store in a fresh namespace, then removes the namespace and closes the store.
    static func withStore<R>(relayed: Bool = false, _ body: (ZooKeeperStore) async throws -> R) async throws -> R {
        let namespace = uniqueNamespace()
        let store = relayed ? try await openRelayedStore(namespace: namespace) : try await openStore(namespace: namespace)
        do {
            let result = try await body(store)
            await cleanUp(namespace)
            await store.close()
            return result
        } catch {
            await cleanUp(namespace)
            await store.close()
            throw error
        }
    }

    /// Deletes `namespace` entirely, from a root handle (with the credentials that own it, if any:
    /// listing a creator-only node needs them).
    static func cleanUp(_ namespace: Key, hosts: [String] = hosts, user: String? = nil, password: String? = nil) async {
        guard let root = try? await openStore(namespace: .root, hosts: hosts, user: user, password: password) else { return }
        try? await root.delete(namespace, ifVersion: nil, recursive: true)
        await root.close()
    }

    private static func canConnect(to host: String) -> Bool {
        let parts = host.split(separator: ":")
        guard parts.count == 2, let port = UInt16(parts[1]) else { return false }
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        guard fd >= 0 else { return false }
        defer { close(fd) }
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_port = port.bigEndian
        let name = parts[0] == "localhost" ? "127.0.0.1" : String(parts[0])
        guard inet_pton(AF_INET, name, &address.sin_addr) == 1 else { return false }
        return withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                connect(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) == 0
            }
        }
    }
}

/// Waits for the first element of `sequence` that satisfies `predicate`, failing after `timeout`
/// with a message that names `what` was awaited.
func firstElement<S: AsyncSequence & Sendable>(
    _ what: String, of sequence: S, within timeout: Duration = .seconds(30),
    where predicate: @escaping @Sendable (S.Element) -> Bool
) async throws -> S.Element where S.Element: Sendable {
    try await withThrowingTaskGroup(of: S.Element?.self) { group in
        group.addTask {
            for try await element in sequence where predicate(element) { return element }
            return nil
        }
        group.addTask {
            try await Task.sleep(for: timeout)
            return nil
        }
        defer { group.cancelAll() }
        guard let first = try await group.next(), let element = first else {
            throw CoordinationError(.timeout, "no \(what) within \(timeout)")
        }
        return element
    }
}
