import Coordination
@testable import CoordinationEtcd
import CoordinationTestSupport
import Foundation
import Synchronization
import Testing

/// etcd servers the tests start themselves (restarts, compaction, clusters, auth, TLS), on ports
/// 23000-23999 and data folders under /tmp, always stopped at the end, failures included.
final class EtcdCluster: @unchecked Sendable {
    struct Member {
        var name: String
        var clientPort: Int
        var peerPort: Int
        var dataDirectory: String
    }

    private static let nextPort = Mutex(23000 + Int.random(in: 0..<40) * 20)

    /// Reserves `count` consecutive ports of our range.
    static func ports(_ count: Int) -> Int {
        nextPort.withLock { port in
            if port + count > 23999 { port = 23000 }
            defer { port += count }
            return port
        }
    }

    let members: [Member]
    let extraArguments: [String]
    let secure: Bool
    let admin: EtcdAdmin
    private let processes = Mutex<[String: Process]>([:])
    private let root: String

    var endpoints: [String] { members.map { "127.0.0.1:\($0.clientPort)" } }

    private init(size: Int, extraArguments: [String], secure: Bool, tls: TLSFiles?) {
        let base = Self.ports(size * 2)
        let root = NSTemporaryDirectory() + "coordination-etcd-\(UUID().uuidString.prefix(8))"
        self.root = root
        members = (0..<size).map { index in
            Member(
                name: "m\(index)", clientPort: base + index * 2, peerPort: base + index * 2 + 1,
                dataDirectory: "\(root)/m\(index)")
        }
        self.extraArguments = extraArguments
        self.secure = secure
        admin = EtcdAdmin(endpoints: members.map { "127.0.0.1:\($0.clientPort)" }, secure: secure, tls: tls)
    }

    /// Starts a cluster of `size` members, runs `body`, and stops every member whatever happens.
    static func with<Result>(
        size: Int = 1, arguments: [String] = [], secure: Bool = false, tls: TLSFiles? = nil,
        _ body: (EtcdCluster) async throws -> Result
    ) async throws -> Result {
        let cluster = EtcdCluster(size: size, extraArguments: arguments, secure: secure, tls: tls)
        do {
            for member in cluster.members { try cluster.start(member) }
            try await cluster.waitUntilHealthy()
            let result = try await body(cluster)
            cluster.stopAll()
            return result
        } catch {
            cluster.stopAll()
            throw error
        }
    }

    func start(_ member: Member) throws {
        LeftoverServers.reapOnce()
        try FileManager.default.createDirectory(atPath: member.dataDirectory, withIntermediateDirectories: true)
        let scheme = secure ? "https" : "http"
        let initialCluster = members.map { "\($0.name)=http://127.0.0.1:\($0.peerPort)" }.joined(separator: ",")
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/etcd")
        process.arguments = [
            "--name", member.name, "--data-dir", member.dataDirectory, "--logger=zap", "--log-outputs=stderr",
            "--listen-client-urls", "\(scheme)://127.0.0.1:\(member.clientPort)",
            "--advertise-client-urls", "\(scheme)://127.0.0.1:\(member.clientPort)",
            "--listen-peer-urls", "http://127.0.0.1:\(member.peerPort)",
            "--initial-advertise-peer-urls", "http://127.0.0.1:\(member.peerPort)",
            "--initial-cluster", initialCluster, "--initial-cluster-state", "new",
            "--initial-cluster-token", URL(fileURLWithPath: root).lastPathComponent,
        ] + extraArguments
        let logPath = root + "/\(member.name).log"
        if !FileManager.default.fileExists(atPath: logPath) {
            _ = FileManager.default.createFile(atPath: logPath, contents: nil)
        }
        let log = try FileHandle(forWritingTo: URL(fileURLWithPath: logPath))
        _ = try log.seekToEnd()
        process.standardError = log
        process.standardOutput = log
        try process.run()
        processes.withLock { $0[member.name] = process }
    }

    /// The process id of a running member.
    func pid(of member: Member) -> pid_t? {
        processes.withLock { $0[member.name]?.processIdentifier }
    }

    /// Stops `member`: SIGKILL at once, or SIGTERM with a SIGKILL fallback after 5 s.
    func stop(_ member: Member, kill: Bool = false) {
        guard let process = processes.withLock({ $0.removeValue(forKey: member.name) }) else { return }
        guard process.isRunning else { return }
        if kill {
            Foundation.kill(process.processIdentifier, SIGKILL)
        } else {
            process.terminate()
            let deadline = Date(timeIntervalSinceNow: 5)
            while process.isRunning && Date() < deadline { Thread.sleep(forTimeInterval: 0.05) }
            if process.isRunning { Foundation.kill(process.processIdentifier, SIGKILL) }
        }
        process.waitUntilExit()
    }

    func stopAll() {
        for member in members { stop(member, kill: true) }
        try? FileManager.default.removeItem(atPath: root)
    }

    /// Waits until every running member answers a status call.
    func waitUntilHealthy(timeout: Duration = .seconds(20)) async throws {
        let running = members.filter { member in processes.withLock { $0[member.name] != nil } }
        let deadline = ContinuousClock.now.advanced(by: timeout)
        for member in running {
            var probe = admin
            probe.endpoints = ["127.0.0.1:\(member.clientPort)"]
            while (try? await probe.call("/v3/kv/range", EtcdRequest.range(Array("health".utf8)))) == nil {
                guard ContinuousClock.now < deadline else {
                    throw CoordinationError(.unavailable, "etcd member \(member.name) did not become ready; see its log under \(root)")
                }
                try await Task.sleep(for: .milliseconds(100))
            }
        }
    }

    /// The member that currently leads the raft group, if one answers.
    func leader() async -> Member? {
        for member in members where processes.withLock({ $0[member.name] != nil }) {
            var probe = admin
            probe.endpoints = ["127.0.0.1:\(member.clientPort)"]
            guard let status = try? await probe.call("/v3/maintenance/status", [:]),
                // Member ids are uint64: compare their decimal text, which may not fit an Int64.
                let leader = status["leader"]?.stringValue, leader == status["header"]?["member_id"]?.stringValue
            else { continue }
            return member
        }
        return nil
    }
}
