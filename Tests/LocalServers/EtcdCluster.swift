import Coordination
import Foundation
import Synchronization

/// etcd servers started on loopback by the tests (restarts, compaction, clusters, auth, TLS; ports
/// 23000-23999) or by `coord-chaos`, data folders under /tmp; their owner stops them at the end,
/// failures included.
public final class EtcdCluster: @unchecked Sendable {
    public struct Member: Sendable {
        public var name: String
        public var clientPort: Int
        public var peerPort: Int
        public var dataDirectory: String
    }

    /// The files of an `https` cluster's clients.
    public struct ClientTLS: Sendable, Hashable {
        public var caCertificate: String?
        public var clientCertificate: String?
        public var clientKey: String?

        public init(caCertificate: String?, clientCertificate: String?, clientKey: String?) {
            self.caCertificate = caCertificate
            self.clientCertificate = clientCertificate
            self.clientKey = clientKey
        }
    }

    private static let nextPort = Mutex(23000 + Int.random(in: 0..<40) * 20)

    /// Reserves `count` consecutive ports of the tests' range that no process listens on now;
    /// they stay claimed (``PortLease``) until this process ends.
    public static func ports(_ count: Int) -> Int {
        let (base, lease) = claimPorts(count)
        if let lease { heldForever.withLock { $0.append(lease) } }
        return base
    }

    private static let heldForever = Mutex<[PortLease]>([])

    /// `count` consecutive ports of the tests' range that no process listens on now, claimed
    /// (``PortLease``) so that no other process using these servers picks them until the lease
    /// is released: another test process on this machine (a second `swift test`, `coord-chaos`)
    /// draws from the same range, and a member that cannot bind its port leaves the tests talking
    /// to that process's server, which they do not stop or freeze.
    static func claimPorts(_ count: Int) -> (base: Int, lease: PortLease?) {
        nextPort.withLock { port in
            for _ in 0..<(1000 / count) {
                if port + count > 23999 { port = 23000 }
                let base = port
                port += count
                guard let lease = PortLease.tryClaim(base..<base + count) else { continue }
                if (base..<base + count).allSatisfy(LoopbackSocket.isFree(port:)) { return (base, lease) }
                lease.release()
            }
            // All taken: the member's start fails, and its log says why.
            if port + count > 23999 { port = 23000 }
            defer { port += count }
            return (port, nil)
        }
    }

    public let members: [Member]
    /// How many of ``members``, from the first, found the cluster; the others join it later
    /// (`--initial-cluster-state existing`), once added (as learners, say) through a founder.
    public let founders: Int
    public let extraArguments: [String]
    public let secure: Bool
    public let clientTLS: ClientTLS?
    private let processes = Mutex<[String: Process]>([:])
    /// Peer addresses advertised in place of a member's own peer port (a ``PeerRelay``'s), by name.
    private let advertisedPeers = Mutex<[String: String]>([:])
    /// The folder holding every member's data and log.
    public let root: String
    /// The claim on the members' ports, when they are the tests' range's; released by ``stopAll()``.
    private let lease: PortLease?

    public var endpoints: [String] { members.map { "127.0.0.1:\($0.clientPort)" } }

    /// Prepares `size` members on the ports from `basePort` on (client, peer, client, peer…),
    /// by default ports of the tests' range; data under `/tmp/<folderPrefix><random>`. The first
    /// `founders` (all, by default) found the cluster.
    public init(
        size: Int, founders: Int? = nil, basePort: Int? = nil, extraArguments: [String] = [], secure: Bool = false,
        clientTLS: ClientTLS? = nil, folderPrefix: String = "coordination-etcd-"
    ) {
        self.founders = founders ?? size
        let (base, lease) = basePort.map { ($0, nil) } ?? Self.claimPorts(size * 2)
        self.lease = lease
        let root = NSTemporaryDirectory() + "\(folderPrefix)\(UUID().uuidString.prefix(8))"
        self.root = root
        members = (0..<size).map { index in
            Member(
                name: "m\(index)", clientPort: base + index * 2, peerPort: base + index * 2 + 1,
                dataDirectory: "\(root)/m\(index)")
        }
        self.extraArguments = extraArguments
        self.secure = secure
        self.clientTLS = clientTLS
    }

    /// Makes every member reach `member`'s peer port at `address` (`host:port`; a ``PeerRelay``
    /// in front of it): its advertised peer URL and its entry in everyone's initial cluster. Call
    /// it before starting any member, for the whole cluster stays consistent only so.
    public func advertisePeer(of member: Member, at address: String) {
        advertisedPeers.withLock { $0[member.name] = address }
    }

    private func peerURL(of member: Member) -> String {
        "http://" + (advertisedPeers.withLock { $0[member.name] } ?? "127.0.0.1:\(member.peerPort)")
    }

    /// Starts `member`'s etcd process, spawned off the cooperative pool; returns once it runs,
    /// not once it serves (``waitUntilServing(within:probe:)``).
    public func start(_ member: Member) async throws {
        // A scan of /proc, and up to 5 s for what it killed: off the pool, as is the spawn below.
        await OwnThread.run { LeftoverServers.reapOnce() }
        try FileManager.default.createDirectory(atPath: member.dataDirectory, withIntermediateDirectories: true)
        let scheme = secure ? "https" : "http"
        let founding = members.prefix(founders)
        let joining = !founding.contains { $0.name == member.name }
        let initialCluster = (joining ? Array(founding) + [member] : Array(founding)).map { "\($0.name)=\(peerURL(of: $0))" }
            .joined(separator: ",")
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/etcd")
        process.arguments = [
            "--name", member.name, "--data-dir", member.dataDirectory, "--logger=zap", "--log-outputs=stderr",
            "--listen-client-urls", "\(scheme)://127.0.0.1:\(member.clientPort)",
            "--advertise-client-urls", "\(scheme)://127.0.0.1:\(member.clientPort)",
            "--listen-peer-urls", "http://127.0.0.1:\(member.peerPort)",
            "--initial-advertise-peer-urls", peerURL(of: member),
            "--initial-cluster", initialCluster, "--initial-cluster-state", joining ? "existing" : "new",
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
        try await ChildProcessLaunch.run(process)
        processes.withLock { $0[member.name] = process }
    }

    /// The process id of a running member.
    public func pid(of member: Member) -> pid_t? {
        processes.withLock { $0[member.name]?.processIdentifier }
    }

    /// `true` while `member` was started and not stopped.
    public func isStarted(_ member: Member) -> Bool {
        processes.withLock { $0[member.name] != nil }
    }

    /// Stops `member`: SIGKILL at once, or SIGTERM with a SIGKILL fallback after 5 s (etcd takes
    /// about 2 s to stop on SIGTERM). Returns once its process has exited, waiting off the
    /// cooperative pool.
    public func stop(_ member: Member, kill: Bool = false) async {
        await OwnThread.run { self.stop(member, kill: kill) }
    }

    /// ``stop(_:kill:)`` holding the calling thread until the process has exited: only for
    /// callers off the cooperative pool (a thread of their own).
    public func stop(_ member: Member, kill: Bool = false) {
        guard let process = processes.withLock({ $0.removeValue(forKey: member.name) }) else { return }
        guard process.isRunning else { return }
        if kill {
            Foundation.kill(process.processIdentifier, SIGKILL)
            process.waitUntilExit()
        } else {
            ChildProcessWait.terminateBlocking(process, grace: .seconds(5))
        }
    }

    /// SIGKILLs every member and removes the cluster's data. Synchronous, for `defer`: a killed
    /// process ends at once, so its wait holds the calling thread only briefly.
    public func stopAll() {
        for member in members { stop(member, kill: true) }
        try? FileManager.default.removeItem(atPath: root)
        lease?.release()
    }

    /// Waits until every started member passes `probe` (by default: it answers a plain-HTTP
    /// status call, so pass a probe of your own for an `https` cluster) and its own process
    /// listens on its client port: a server of another process on that port (bound between the
    /// port's check and our member's start, which then could not bind it) answers the probe too.
    /// - Throws: `unavailable` when a member's process exited, or a member is not ready in time.
    public func waitUntilServing(
        within timeout: Duration = .seconds(60), probe: (@Sendable (Member) async -> Bool)? = nil
    ) async throws {
        let probe = probe ?? { member in await Self.status(of: member) != nil }
        let deadline = ContinuousClock.now.advanced(by: timeout)
        for member in members where isStarted(member) {
            while true {
                // Stopped meanwhile by its owner (a chaos fault): nothing to wait for.
                guard let process = processes.withLock({ $0[member.name] }) else { break }
                guard process.isRunning else {
                    throw CoordinationError(
                        .unavailable,
                        "etcd member \(member.name) exited before serving (is port \(member.clientPort) or \(member.peerPort) another process's?); see its log under \(root)")
                }
                let pid = process.processIdentifier
                // /proc's socket table is read off the pool: thousands of sockets make it slow.
                if await probe(member), await OwnThread.run({ ProcessTable.listens(pid, on: member.clientPort) }) { break }
                guard ContinuousClock.now < deadline else {
                    throw CoordinationError(.unavailable, "etcd member \(member.name) did not become ready; see its log under \(root)")
                }
                try await Task.sleep(for: .milliseconds(100))  // readiness poll: the server offers no event
            }
        }
    }

    /// The member that currently leads the raft group, if one answers (plain HTTP only).
    public func leader() async -> Member? {
        for member in members where isStarted(member) {
            // Member ids are uint64, sent as decimal text: compare the texts.
            guard let status = await Self.status(of: member), let leader = status["leader"] as? String,
                let header = status["header"] as? [String: Any], leader == header["member_id"] as? String
            else { continue }
            return member
        }
        return nil
    }

    /// `/v3/maintenance/status` of one member (header, leader, raft indexes…), `nil` when it does not answer.
    public static func status(of member: Member) async -> [String: Any]? {
        await LoopbackHTTP.postJSON(port: member.clientPort, path: "/v3/maintenance/status", body: "{}")?.object
    }
}
