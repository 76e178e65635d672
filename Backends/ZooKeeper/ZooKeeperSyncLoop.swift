import CZooKeeper
import Coordination
import Foundation

/// The C client's own synchronous loop: the baseline `coord bench` holds ``ZooKeeperStore`` to.
///
/// The same sequential creates, gets, sets and deletes the benchmark runs through the store, made
/// with `zoo_create`, `zoo_get`, `zoo_set` and `zoo_delete` on a thread of its own, so the
/// difference between the two is what the store adds (async bridging, validation, records).
/// The bench runs it in chunks interleaved with the store's own loop, so that load that drifts
/// during a run (other processes on the machine) weighs on both alike.
package final class ZooKeeperSyncLoop: SyncOperationLoop, @unchecked Sendable {
    // Only ever used by one thread at a time: each call runs on a fresh thread and is awaited
    // before the next one starts.
    private let zh: OpaquePointer
    package let folder: String
    private let value: [UInt8]
    /// Creator-only ACLs when the handle authenticated, open ones otherwise, as the store does.
    private let acl: UnsafePointer<ACL_vector>?

    private init(zh: OpaquePointer, folder: String, value: [UInt8], creatorOnly: Bool) {
        self.zh = zh
        self.folder = folder
        self.value = value
        acl = creatorOnly ? coordination_zoo_creator_all_acl() : coordination_zoo_open_acl()
    }

    /// Connects, creates the znode `folder` (and its missing ancestors) and runs `warmup`
    /// untimed rounds of the four operations.
    package static func open(
        configuration: ZooKeeperConfiguration, folder: String, warmup: Int, value: [UInt8]
    ) async throws(CoordinationError) -> ZooKeeperSyncLoop {
        try await OwnThread.run { () throws(CoordinationError) -> ZooKeeperSyncLoop in
            coordination_zoo_silence_log()
            let timeout = Int32(clamping: configuration.sessionTimeout.components.seconds * 1000)
            guard let zh = zookeeper_init(ClientConnectString.from(configuration.connectString), nil, timeout, nil, nil, 0) else {
                throw CoordinationError(.invalidConfiguration, "the ZooKeeper client refused '\(configuration.connectString)'")
            }
            ZooKeeperConnection.limitHostResolution(zh)  // as the store does, so both pay the same
            var creatorOnly = false
            if let user = configuration.user, let password = configuration.password {
                _ = "\(user):\(password)".withCString { zoo_add_auth(zh, "digest", $0, Int32(strlen($0)), nil, nil) }
                creatorOnly = true
            }
            let loop = ZooKeeperSyncLoop(zh: zh, folder: folder, value: value, creatorOnly: creatorOnly)
            do throws(CoordinationError) {
                try loop.ensureFolder()
                try loop.warmUp(warmup)
            } catch {
                zookeeper_close(zh)
                throw error
            }
            return loop
        }
    }

    /// Removes the folder (it must be empty by then) and closes the session.
    package func close() async {
        await OwnThread.run { [self] () -> Void in
            _ = zoo_delete(zh, folder, -1)
            zookeeper_close(zh)
        }
    }

    package func perform(_ operation: String, _ path: String) throws(CoordinationError) {
        let rc: Int32
        switch operation {
        case "create":
            rc = value.withUnsafeBytes { bytes in
                zoo_create(zh, path, bytes.baseAddress?.assumingMemoryBound(to: CChar.self), Int32(value.count), acl, 0, nil, 0)
            }
        case "get":
            var buffer = [CChar](repeating: 0, count: value.count + 16)
            var length = Int32(buffer.count)
            var stat = Stat()
            rc = zoo_get(zh, path, 0, &buffer, &length, &stat)
        case "set":
            rc = value.withUnsafeBytes { bytes in
                zoo_set(zh, path, bytes.baseAddress?.assumingMemoryBound(to: CChar.self), Int32(value.count), -1)
            }
        default:
            rc = zoo_delete(zh, path, -1)
        }
        guard rc == ZOK.rawValue else {
            throw ZooKeeperReturnCode.error(rc, key: nil, during: "\(operation) \(path) in the C client's loop")
        }
    }

    /// Creates the folder and its missing ancestors.
    private func ensureFolder() throws(CoordinationError) {
        var prefix = ""
        for component in folder.split(separator: "/") {
            prefix += "/\(component)"
            let rc = zoo_create(zh, prefix, nil, -1, acl, 0, nil, 0)
            guard rc == ZOK.rawValue || rc == ZNODEEXISTS.rawValue else {
                throw ZooKeeperReturnCode.error(rc, key: nil, during: "create \(prefix) in the C client's loop")
            }
        }
    }
}
