import CZooKeeper
import Coordination
import Foundation

/// The C client's own synchronous loop: the baseline `coord bench` holds ``ZooKeeperStore`` to.
///
/// The same sequential creates, gets, sets and deletes the benchmark runs through the store, made
/// with `zoo_create`, `zoo_get`, `zoo_set` and `zoo_delete` on one thread of its own, so the
/// difference between the two is what the store adds (async bridging, validation, records).
public enum ZooKeeperSyncLoop {
    /// Per-operation latencies in seconds, keyed `create`, `get`, `set`, `delete`.
    public typealias Samples = [String: [Double]]

    /// Runs `warmup` untimed rounds, then `operations` timed ones of each kind, under the znode
    /// `folder` (created if missing, removed afterwards).
    public static func run(
        configuration: ZooKeeperConfiguration, folder: String, operations: Int, warmup: Int, value: [UInt8]
    ) async throws(CoordinationError) -> Samples {
        let result: Result<Samples, CoordinationError> = await withCheckedContinuation { continuation in
            // Blocking C calls: a thread of our own, never the cooperative pool.
            Thread.detachNewThread {
                continuation.resume(returning: runBlocking(configuration, folder, operations, warmup, value))
            }
        }
        return try result.get()
    }

    private static func runBlocking(
        _ configuration: ZooKeeperConfiguration, _ folder: String, _ operations: Int, _ warmup: Int, _ value: [UInt8]
    ) -> Result<Samples, CoordinationError> {
        coordination_zoo_silence_log()
        let timeout = Int32(clamping: configuration.sessionTimeout.components.seconds * 1000)
        guard let zh = zookeeper_init(configuration.connectString, nil, timeout, nil, nil, 0) else {
            return .failure(CoordinationError(.invalidConfiguration, "the ZooKeeper client refused '\(configuration.connectString)'"))
        }
        defer { zookeeper_close(zh) }
        ZooKeeperConnection.limitHostResolution(zh)  // as the store does, so both pay the same
        if let user = configuration.user, let password = configuration.password {
            _ = "\(user):\(password)".withCString { zoo_add_auth(zh, "digest", $0, Int32(strlen($0)), nil, nil) }
        }
        let acl = configuration.user == nil ? coordination_zoo_open_acl() : coordination_zoo_creator_all_acl()
        func check(_ rc: Int32, _ what: String, _ path: String) throws(CoordinationError) {
            guard rc == ZOK.rawValue || (what == "create" && path == folder && rc == ZNODEEXISTS.rawValue) else {
                throw ZooKeeperReturnCode.error(rc, key: nil, during: "\(what) \(path) in the C client's loop")
            }
        }
        func create(_ path: String) throws(CoordinationError) {
            let rc = value.withUnsafeBytes { bytes in
                zoo_create(zh, path, bytes.baseAddress?.assumingMemoryBound(to: CChar.self), Int32(value.count), acl, 0, nil, 0)
            }
            try check(rc, "create", path)
        }
        func get(_ path: String) throws(CoordinationError) {
            var buffer = [CChar](repeating: 0, count: value.count + 16)
            var length = Int32(buffer.count)
            var stat = Stat()
            try check(zoo_get(zh, path, 0, &buffer, &length, &stat), "get", path)
        }
        func set(_ path: String) throws(CoordinationError) {
            let rc = value.withUnsafeBytes { bytes in
                zoo_set(zh, path, bytes.baseAddress?.assumingMemoryBound(to: CChar.self), Int32(value.count), -1)
            }
            try check(rc, "set", path)
        }
        func delete(_ path: String) throws(CoordinationError) {
            try check(zoo_delete(zh, path, -1), "delete", path)
        }
        do throws(CoordinationError) {
            try ensure(folder, zh: zh, acl: acl)
            for index in 0..<warmup {
                let path = "\(folder)/w-\(index)"
                try create(path)
                try get(path)
                try set(path)
                try delete(path)
            }
            let paths = (0..<operations).map { "\(folder)/k-\($0)" }
            let clock = ContinuousClock()
            var samples: Samples = [:]
            for (name, operation) in [("create", create), ("get", get), ("set", set), ("delete", delete)] {
                var seconds: [Double] = []
                seconds.reserveCapacity(paths.count)
                for path in paths {
                    let start = clock.now
                    try operation(path)
                    let elapsed = clock.now - start
                    seconds.append(Double(elapsed.components.seconds) + Double(elapsed.components.attoseconds) / 1e18)
                }
                samples[name] = seconds
            }
            _ = zoo_delete(zh, folder, -1)
            return .success(samples)
        } catch {
            return .failure(error)
        }
    }

    /// Creates `path` and its missing ancestors.
    private static func ensure(_ path: String, zh: OpaquePointer, acl: UnsafePointer<ACL_vector>?) throws(CoordinationError) {
        var prefix = ""
        for component in path.split(separator: "/") {
            prefix += "/\(component)"
            let rc = zoo_create(zh, prefix, nil, -1, acl, 0, nil, 0)
            guard rc == ZOK.rawValue || rc == ZNODEEXISTS.rawValue else {
                throw ZooKeeperReturnCode.error(rc, key: nil, during: "create \(prefix) in the C client's loop")
            }
        }
    }
}
