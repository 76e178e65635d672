import Coordination
import CoordinationTestSupport
import Foundation
import Testing

/// ZooKeeper servers the tests start themselves (on ports 22000-22999, data under /tmp), for
/// restarts and ensembles. Started with the Java line from ENVIRONMENT.md, stopped by the test
/// that started them, also when it fails.
final class TestServer: @unchecked Sendable {
    // Only touched by the one test that owns the server, one step at a time.
    let id: Int
    let clientPort: Int
    let directory: URL
    private var process: Process?

    static let classPath = "/usr/share/java/zookeeper.jar:/usr/share/java/slf4j-simple.jar"
    static let javaAvailable: Bool =
        FileManager.default.fileExists(atPath: "/usr/share/java/zookeeper.jar")
        && ["/usr/bin/java", "/usr/local/bin/java"].contains { FileManager.default.isExecutableFile(atPath: $0) }
    /// Under CI a missing Java or ZooKeeper jar fails these tests; locally it skips them.
    static let runTests = ZooKeeperTestEnvironment.isCI || javaAvailable
    static let skipReason: Comment = "java or /usr/share/java/zookeeper.jar is missing (apt-get install zookeeper); skipped locally, fails under CI=true"

    var host: String { "127.0.0.1:\(clientPort)" }

    /// Prepares a server; `ensemble` lists (id, clientPort, peerPort, electionPort) of every member.
    init(id: Int, clientPort: Int, ensemble: [(id: Int, peer: Int, election: Int)] = [], tickTime: Int = 1000) throws {
        self.id = id
        self.clientPort = clientPort
        directory = URL(fileURLWithPath: "/tmp/coord-zk-test-\(clientPort)-\(UInt32.random(in: 0...UInt32.max))")
        let data = directory.appendingPathComponent("data")
        try FileManager.default.createDirectory(at: data, withIntermediateDirectories: true)
        var config = """
            tickTime=\(tickTime)
            initLimit=10
            syncLimit=5
            dataDir=\(data.path)
            clientPort=\(clientPort)
            clientPortAddress=127.0.0.1
            4lw.commands.whitelist=ruok,srvr,stat,mntr,conf
            admin.enableServer=false
            preAllocSize=4096
            maxSessionTimeout=\(tickTime * 20)

            """
        for member in ensemble {
            config += "server.\(member.id)=127.0.0.1:\(member.peer):\(member.election)\n"
        }
        try config.write(to: directory.appendingPathComponent("zoo.cfg"), atomically: true, encoding: .utf8)
        if !ensemble.isEmpty { try "\(id)\n".write(to: data.appendingPathComponent("myid"), atomically: true, encoding: .utf8) }
    }

    /// Starts the JVM and waits until the server serves (the `srvr` word prints a `Mode:` line).
    func start(waitUntilReady: Bool = true) async throws {
        LeftoverServers.reapOnce()
        if mode() != nil {
            throw CoordinationError(.unavailable, "port \(clientPort) already serves ZooKeeper before this test started its own; stop that server")
        }
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/java")
        process.arguments = [
            "-Xmx128m", "-XX:+UseSerialGC", "-XX:TieredStopAtLevel=1", "-cp", Self.classPath,
            "org.apache.zookeeper.server.quorum.QuorumPeerMain", directory.appendingPathComponent("zoo.cfg").path,
        ]
        let log = directory.appendingPathComponent("server.log")
        if !FileManager.default.fileExists(atPath: log.path) { _ = FileManager.default.createFile(atPath: log.path, contents: nil) }
        let handle = try FileHandle(forWritingTo: log)
        handle.seekToEndOfFile()
        process.standardOutput = handle
        process.standardError = handle
        try process.run()
        self.process = process
        if waitUntilReady { try await waitUntilServing() }
    }

    func waitUntilServing(within timeout: Duration = .seconds(30)) async throws {
        let deadline = ContinuousClock.now + timeout
        while ContinuousClock.now < deadline {
            if mode() != nil { return }
            try await Task.sleep(for: .milliseconds(100))  // readiness poll: the server offers no event
        }
        throw CoordinationError(.unavailable, "test ZooKeeper on port \(clientPort) did not start; see \(directory.path)/server.log")
    }

    /// `leader`, `follower` or `standalone` from the `srvr` four-letter word; `nil` when not serving.
    func mode() -> String? {
        guard let reply = Self.fourLetterWord("srvr", port: clientPort) else { return nil }
        return reply.split(separator: "\n").first { $0.hasPrefix("Mode:") }.map { $0.dropFirst(5).trimmingCharacters(in: .whitespaces) }
    }

    /// Kills the server like a crash (SIGKILL) and waits for the process to be gone.
    func kill() {
        guard let process, process.isRunning else { return }
        Foundation.kill(process.processIdentifier, SIGKILL)
        process.waitUntilExit()
        self.process = nil
    }

    /// Stops the server and removes its data.
    func destroy() {
        kill()
        try? FileManager.default.removeItem(at: directory)
    }

    static func fourLetterWord(_ word: String, port: Int) -> String? {
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        guard fd >= 0 else { return nil }
        defer { close(fd) }
        var timeout = timeval(tv_sec: 2, tv_usec: 0)
        setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &timeout, socklen_t(MemoryLayout<timeval>.size))
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_port = UInt16(port).bigEndian
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        let connected = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { connect(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) == 0 }
        }
        guard connected, send(fd, word, word.utf8.count, 0) == word.utf8.count else { return nil }
        var reply: [UInt8] = []
        var buffer = [UInt8](repeating: 0, count: 4096)
        while true {
            let count = recv(fd, &buffer, buffer.count, 0)
            if count <= 0 { break }
            reply += buffer[0..<count]
        }
        return reply.isEmpty ? nil : String(decoding: reply, as: UTF8.self)
    }
}

/// Runs `body` with servers that are destroyed afterwards, whatever happens.
func withTestServers<R>(_ servers: [TestServer], _ body: () async throws -> R) async throws -> R {
    do {
        let result = try await body()
        for server in servers { server.destroy() }
        return result
    } catch {
        for server in servers { server.destroy() }
        throw error
    }
}
