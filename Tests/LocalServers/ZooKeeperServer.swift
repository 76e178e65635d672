import Coordination
import Foundation

/// A ZooKeeper server on loopback that a test (ports 22000-22999) or `coord-chaos` starts itself,
/// for restarts, ensembles and faults; data under /tmp. Started with the Java line from
/// ENVIRONMENT.md and stopped by whoever started it, also when that fails. Its ports are claimed
/// across processes (``PortLease``) while it exists.
public final class ZooKeeperServer: @unchecked Sendable {
    // Only touched by the one owner of the server, one step at a time.
    public let id: Int
    public let clientPort: Int
    public let directory: URL
    private let systemProperties: [String]
    private var process: Process?
    /// The ports this server binds: its client port, and its peer and election ports in an ensemble.
    private let ports: [Int]
    /// The claim on ``ports`` (``PortLease``), from the first start until ``destroy()``.
    private var lease: PortLease?

    static let classPath = "/usr/share/java/zookeeper.jar:/usr/share/java/slf4j-simple.jar"
    public static let javaAvailable: Bool =
        FileManager.default.fileExists(atPath: "/usr/share/java/zookeeper.jar")
        && ["/usr/bin/java", "/usr/local/bin/java"].contains { FileManager.default.isExecutableFile(atPath: $0) }

    /// How a server times its peers and its sessions (ZooKeeper counts both in ticks).
    public struct Timing: Sendable {
        public var tickTime: Int
        public var initLimit: Int
        public var syncLimit: Int
        /// Session timeouts allowed, in ms; `nil` keeps ZooKeeper's 2 to 20 ticks.
        public var minSessionTimeout: Int?
        public var maxSessionTimeout: Int?

        public init(tickTime: Int = 1000, initLimit: Int = 10, syncLimit: Int = 5, minSessionTimeout: Int? = nil, maxSessionTimeout: Int? = nil) {
            self.tickTime = tickTime
            self.initLimit = initLimit
            self.syncLimit = syncLimit
            self.minSessionTimeout = minSessionTimeout
            self.maxSessionTimeout = maxSessionTimeout
        }
    }

    public var host: String { "127.0.0.1:\(clientPort)" }

    /// Prepares a server; `ensemble` lists (id, peerPort, electionPort) of every member. Its data
    /// folder is `/tmp/<folderPrefix><port>-<random>` (``LeftoverServers`` knows the prefixes).
    public convenience init(id: Int, clientPort: Int, ensemble: [(id: Int, peer: Int, election: Int)] = [], tickTime: Int = 1000) throws {
        try self.init(id: id, clientPort: clientPort, ensemble: ensemble, timing: Timing(tickTime: tickTime))
    }

    /// `settings` are further zoo.cfg lines (`key=value`), such as `enforce.auth.enabled`;
    /// `systemProperties` are the JVM's `-Dname=value`, for what zoo.cfg cannot set (`jute.maxbuffer`).
    public init(
        id: Int, clientPort: Int, ensemble: [(id: Int, peer: Int, election: Int)], timing: Timing, folderPrefix: String = "coord-zk-test-",
        settings: [String: String] = [:], systemProperties: [String: String] = [:]
    ) throws {
        self.systemProperties = systemProperties.sorted { $0.key < $1.key }.map { "-D\($0.key)=\($0.value)" }
        self.id = id
        self.clientPort = clientPort
        ports = [clientPort] + ensemble.filter { $0.id == id }.flatMap { [$0.peer, $0.election] }
        directory = URL(fileURLWithPath: "/tmp/\(folderPrefix)\(clientPort)-\(UInt32.random(in: 0...UInt32.max))")
        let data = directory.appendingPathComponent("data")
        try FileManager.default.createDirectory(at: data, withIntermediateDirectories: true)
        var config = """
            tickTime=\(timing.tickTime)
            initLimit=\(timing.initLimit)
            syncLimit=\(timing.syncLimit)
            dataDir=\(data.path)
            clientPort=\(clientPort)
            clientPortAddress=127.0.0.1
            4lw.commands.whitelist=ruok,srvr,stat,mntr,conf
            admin.enableServer=false
            preAllocSize=4096
            maxSessionTimeout=\(timing.maxSessionTimeout ?? timing.tickTime * 20)

            """
        if let minimum = timing.minSessionTimeout { config += "minSessionTimeout=\(minimum)\n" }
        for (key, value) in settings.sorted(by: { $0.key < $1.key }) { config += "\(key)=\(value)\n" }
        for member in ensemble {
            config += "server.\(member.id)=127.0.0.1:\(member.peer):\(member.election)\n"
        }
        try config.write(to: directory.appendingPathComponent("zoo.cfg"), atomically: true, encoding: .utf8)
        if !ensemble.isEmpty { try "\(id)\n".write(to: data.appendingPathComponent("myid"), atomically: true, encoding: .utf8) }
    }

    /// Starts the JVM and waits until the server serves (the `srvr` word prints a `Mode:` line).
    /// The first start claims the server's ports (``PortLease``), waiting while another process
    /// holds them (the same test of another checkout, on the same fixed ports).
    public func start(waitUntilReady: Bool = true) async throws {
        // Both block (a scan of /proc and up to 5 s for what it killed; a socket exchange of up to 2 s): off the pool.
        await OwnThread.run { LeftoverServers.reapOnce() }
        if lease == nil { lease = try await PortLease.claim(ports, within: Self.portClaimLimit) }
        if await OwnThread.run({ self.mode() }) != nil {
            throw CoordinationError(.unavailable, "port \(clientPort) already serves ZooKeeper before we started our own; stop that server")
        }
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/java")
        process.arguments = [
            "-Xmx128m", "-XX:+UseSerialGC", "-XX:TieredStopAtLevel=1",
        ] + systemProperties + [
            "-cp", Self.classPath, "org.apache.zookeeper.server.quorum.QuorumPeerMain", directory.appendingPathComponent("zoo.cfg").path,
        ]
        let log = directory.appendingPathComponent("server.log")
        if !FileManager.default.fileExists(atPath: log.path) { _ = FileManager.default.createFile(atPath: log.path, contents: nil) }
        let handle = try FileHandle(forWritingTo: log)
        handle.seekToEndOfFile()
        process.standardOutput = handle
        process.standardError = handle
        try await ChildProcessLaunch.run(process)
        self.process = process
        if waitUntilReady { try await waitUntilServing() }
    }

    /// How long a start waits for another process to give this server's ports back: longer
    /// than any one test holds a server.
    static let portClaimLimit = Duration.seconds(180)

    /// Waits until the server serves and its own JVM listens on the client port: another
    /// process's server on that port (bound between the port's check and our JVM's start, which
    /// then could not bind it) answers `srvr` too.
    /// - Throws: `unavailable` when the JVM exited or is not serving within `timeout`.
    public func waitUntilServing(within timeout: Duration = .seconds(30)) async throws {
        let deadline = ContinuousClock.now + timeout
        while ContinuousClock.now < deadline {
            guard let process, process.isRunning else {
                throw CoordinationError(
                    .unavailable,
                    "ZooKeeper on port \(clientPort) exited before serving (is one of ports \(ports) another process's?); see \(directory.path)/server.log")
            }
            // The four-letter word is blocking socket I/O (up to its 2 s timeout), and /proc's
            // socket table slow to read with thousands of sockets: off the pool.
            let pid = process.processIdentifier
            let port = clientPort
            if await OwnThread.run({ self.mode() != nil && ProcessTable.listens(pid, on: port) }) { return }
            try await Task.sleep(for: .milliseconds(100))  // readiness poll: the server offers no event
        }
        throw CoordinationError(.unavailable, "ZooKeeper on port \(clientPort) did not start; see \(directory.path)/server.log")
    }

    /// `leader`, `follower` or `standalone` from the `srvr` four-letter word; `nil` when not serving.
    /// Blocking socket I/O (up to 2 s): async callers run it on a thread of their own (`OwnThread`).
    public func mode() -> String? {
        guard let reply = Self.fourLetterWord("srvr", port: clientPort) else { return nil }
        return reply.split(separator: "\n").first { $0.hasPrefix("Mode:") }.map { $0.dropFirst(5).trimmingCharacters(in: .whitespaces) }
    }

    /// Kills the server like a crash (SIGKILL) and waits for the process to be gone.
    public func kill() {
        guard let process, process.isRunning else { return }
        Foundation.kill(process.processIdentifier, SIGKILL)
        process.waitUntilExit()
        self.process = nil
    }

    /// Stops the server as a service manager does (SIGTERM; SIGKILL if the JVM is still there after
    /// 5 s) and waits for the process to be gone.
    public func terminate() {
        guard let process, process.isRunning else { return }
        process.terminate()
        let deadline = Date(timeIntervalSinceNow: 5)
        while process.isRunning && Date() < deadline { Thread.sleep(forTimeInterval: 0.05) }
        if process.isRunning { Foundation.kill(process.processIdentifier, SIGKILL) }
        process.waitUntilExit()
        self.process = nil
    }

    /// The JVM's process id while it runs.
    public var pid: Int32? {
        guard let process, process.isRunning else { return nil }
        return process.processIdentifier
    }

    /// Sends `signal` (SIGSTOP, SIGCONT…) to the running JVM; `false` when it does not run.
    @discardableResult
    public func signal(_ signal: Int32) -> Bool {
        guard let pid else { return false }
        return Foundation.kill(pid, signal) == 0
    }

    /// Stops the server and removes its data.
    public func destroy() {
        kill()
        try? FileManager.default.removeItem(at: directory)
        lease?.release()
        lease = nil
    }

    public static func fourLetterWord(_ word: String, port: Int) -> String? {
        guard let reply = LoopbackSocket.exchange(port: port, request: Array(word.utf8), timeout: .seconds(2)) else { return nil }
        return reply.isEmpty ? nil : String(decoding: reply, as: UTF8.self)
    }
}
