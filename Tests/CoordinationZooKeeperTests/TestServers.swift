import CoordinationLocalServers
import Testing

/// The ZooKeeper servers these tests start themselves (``ZooKeeperServer``, ports 22000-22999).
typealias TestServer = ZooKeeperServer

extension ZooKeeperServer {
    /// Under CI a missing Java or ZooKeeper jar fails these tests; locally it skips them.
    static let runTests = ZooKeeperTestEnvironment.isCI || javaAvailable
    static let skipReason: Comment = "java or /usr/share/java/zookeeper.jar is missing (apt-get install zookeeper); skipped locally, fails under CI=true"
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
