import Coordination
import CoordinationLocalServers
import CoordinationTestSupport
import Foundation
import Testing

@testable import CoordinationZooKeeper

/// A host that accepts connections but gives no session is waited for, the whole session
/// timeout; the refusal then says what the host did, not "is the server running?" of a server
/// that answered. (A host that hangs up on every connection: `ZooKeeperStoreTests`'
/// `aHostThatAcceptsButGivesNoSessionIsWaitedFor`.) Ports 22270-22283, and 22276 and 22277 as
/// the absent members' client ports.
@Suite(.serialized, .enabled(if: TestServer.runTests, TestServer.skipReason), .serverLoadLimit)
struct SessionWaitReasonTests {
    /// The most common case: one member of an ensemble up while the others are not. It takes
    /// connections and closes them, and says why only to `srvr`.
    @Test func aLoneEnsembleMemberIsNamedAsNotServing() async throws {
        let members = (1...3).map { (id: $0, peer: 22270 + $0, election: 22280 + $0) }
        let server = try TestServer(id: 1, clientPort: 22270, ensemble: members, timing: .init(tickTime: 500))
        try await withTestServers([server]) {
            try await server.start(waitUntilReady: false)
            try await withDeadline("the lone member to say it is not serving") {
                // A readiness poll: the server offers no event for having started.
                while await OwnThread.run({ TestServer.fourLetterWord("srvr", port: 22270) })?.hasPrefix("This ZooKeeper instance is not currently serving") != true {
                    try await Task.sleep(for: .milliseconds(100))
                }
            }
            let error = await #expect(throws: CoordinationError.self) {
                _ = try await ZooKeeperTestEnvironment.openStore(
                    namespace: .root, hosts: [server.host, "127.0.0.1:22276", "127.0.0.1:22277"], sessionTimeout: .seconds(2))
            }
            #expect(error?.code == .unavailable)
            // The members that are down are named too: those are the ones to start.
            #expect(
                error?.message.contains(
                    "within 2s; 127.0.0.1:22270 is a ZooKeeper server that is not serving requests: a member of an ensemble without a quorum (start enough of its members for a majority), or one still starting; 127.0.0.1:22276: connection refused; 127.0.0.1:22277: connection refused"
                ) == true,
                "\(String(describing: error))")
        }
    }

    /// A host that completes the connection (into its backlog) and never reads nor answers: a
    /// stopped server, or something else listening.
    @Test func aSilentHostIsNamedAsSilent() async throws {
        let (listener, port) = try LoopbackSocket.listen()
        defer { close(listener) }
        let error = await #expect(throws: CoordinationError.self) {
            _ = try await ZooKeeperTestEnvironment.openStore(namespace: .root, hosts: ["127.0.0.1:\(port)"], sessionTimeout: .seconds(3))
        }
        #expect(error?.code == .unavailable)
        #expect(
            error?.message.contains("within 3s; 127.0.0.1:\(port) accepted the connection but answered nothing within 1s: a stopped or overloaded server") == true,
            "\(String(describing: error))")
    }
}
