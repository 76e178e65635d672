import Coordination
import CoordinationLocalServers
import Foundation
import Testing

/// The private servers' readiness check asks /proc whether the server's own process listens on
/// its port. /proc/net/tcp came back cut at its first page (some 27 sockets) and a server listening
/// beyond it was never "ready": private etcd members failed to start in tests and in a soak, on a
/// machine with many sockets open.
@Suite("ProcessTable reads the whole socket table")
struct ProcessTableListeningTests {
    @Test("every port this process listens on is found, however many sockets come before it")
    func findsEveryListeningPort() async throws {
        // More listening sockets than one page of the table holds.
        let listeners = try (0..<40).map { _ in try LoopbackSocket.listen() }
        defer { for listener in listeners { close(listener.descriptor) } }
        let me = getpid()
        let ports = listeners.map(\.port)
        // Off the pool: with thousands of sockets in the table (a test run leaves them in
        // TIME_WAIT), 40 reads of it held up every other test of a run for seconds.
        let missed = await OwnThread.run { ports.filter { !ProcessTable.listens(me, on: $0) } }
        #expect(missed.isEmpty, "\(missed.count) of \(listeners.count) listening ports not found")
        let other = try #require(ports.first)
        let parent = getppid()
        #expect(await OwnThread.run { !ProcessTable.listens(parent, on: other) }, "another process's listening socket is not ours")
    }
}
