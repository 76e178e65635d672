import Foundation
import Testing

/// Where the test servers are, from the same variables `compose/native env` prints.
public enum TestEnvironment {
    public static var isCI: Bool { ProcessInfo.processInfo.environment["CI"] == "true" }

    /// `ZOOKEEPER_HOSTS` (comma-separated host:port), by default 127.0.0.1:2181.
    public static var zookeeperHosts: [String] { list("ZOOKEEPER_HOSTS", default: "127.0.0.1:2181") }

    /// `ETCD_ENDPOINTS` (comma-separated host:port), by default 127.0.0.1:2379.
    public static var etcdEndpoints: [String] { list("ETCD_ENDPOINTS", default: "127.0.0.1:2379") }

    static func list(_ variable: String, default fallback: String) -> [String] {
        let text = ProcessInfo.processInfo.environment[variable] ?? ""
        let items = text.split(separator: ",").map { $0.trimmingCharacters(in: .whitespaces) }.filter { !$0.isEmpty }
        return items.isEmpty ? [fallback] : items
    }

    /// Returns when `host:port` accepts a TCP connection. Otherwise, under CI, throws (a missing
    /// server is a failure there); locally, skips the current test with the reason.
    public static func requireServer(_ name: String, at address: String, variable: String) throws {
        if canConnect(to: address) { return }
        let reason = "\(name) is not reachable at \(address) (set \(variable), or run compose/native up)"
        if isCI { throw TestServerMissing(description: reason) }
        // This toolchain reports a cancelled test case as passed: say so where people look.
        FileHandle.standardError.write(Data("⚠️ skipped \(Test.current?.name ?? "a test"): \(reason)\n".utf8))
        try Test.cancel(Comment(rawValue: "skipped: " + reason))
    }

    /// A plain TCP connect with a short timeout.
    static func canConnect(to address: String) -> Bool {
        let parts = address.split(separator: ":")
        guard parts.count == 2, let port = UInt16(parts[1]) else { return false }
        let host = parts[0] == "localhost" ? "127.0.0.1" : String(parts[0])
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        guard fd >= 0 else { return false }
        defer { close(fd) }
        var timeout = timeval(tv_sec: 2, tv_usec: 0)
        setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &timeout, socklen_t(MemoryLayout<timeval>.size))
        var socketAddress = sockaddr_in()
        socketAddress.sin_family = sa_family_t(AF_INET)
        socketAddress.sin_port = port.bigEndian
        guard inet_pton(AF_INET, host, &socketAddress.sin_addr) == 1 else { return false }
        return withUnsafePointer(to: &socketAddress) { pointer in
            pointer.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                connect(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) == 0
            }
        }
    }
}

/// Under CI a test server that cannot be reached fails the test that needs it.
public struct TestServerMissing: Error, CustomStringConvertible {
    public let description: String
}
