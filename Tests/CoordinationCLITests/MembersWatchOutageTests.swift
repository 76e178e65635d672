import Coordination
import CoordinationLocalServers
import CoordinationTestSupport
import Foundation
import Testing

/// `coord members --watch` across an outage: like `kv watch`, it says on stderr when contact was
/// lost and when it came back (it said nothing, its last state standing as if current), and a
/// member who joined meanwhile still reaches its output.
@Suite("coord members --watch across a lost connection", .serverLoadLimit)
struct MembersWatchOutageTests {
    /// The watcher's session: long enough that the outage the test makes (noticing the cut,
    /// opening a second handle, adding a member, healing) never outlasts it, however loaded the
    /// machine. With the handles' usual 3 s the session outlasted only about 2 s of outage (etcd
    /// counts from the last keep-alive, sent every TTL/3; ZooKeeper from the last ping, likewise),
    /// and under load the session expired: coord then rightly said "the session expired" and
    /// "contact is back, in a new session; …", and the wait for the reconnect's note ran out.
    /// Now the outage may last 13 s before the session ends. The expiry has its own test below.
    static let outlastingSession = Duration.seconds(20)

    @Test("members --watch notes a lost connection and its return, and prints the member who joined meanwhile", arguments: SchedulerProcessTests.servers)
    func watchAcrossAnOutage(backend: TestBackend) async throws {
        try await Self.watchCutOffWhileAMemberJoins(backend, ttl: Self.outlastingSession) { watcher, relay, _ in
            relay.heal()
            // Either note of contact being back ends the wait at once; only the reconnect's passes.
            try await watcher.waitFor("coord: note: contact is back", inStderr: true)
            #expect(
                watcher.stderr.contains("coord: note: contact is back; the group follows if it changed meanwhile"),
                "contact came back within the session: \(watcher.stderr)")
        }
    }

    /// Cut off past its session's TTL, the watcher starts a new session once contact is back:
    /// stderr says the session expired and that contact is back in a new one, and the member who
    /// joined meanwhile still reaches the output.
    @Test("members --watch cut off until its session expired notes the expiry and that contact is back", arguments: SchedulerProcessTests.servers)
    func watchAcrossAnExpiry(backend: TestBackend) async throws {
        try await Self.watchCutOffWhileAMemberJoins(backend, ttl: .seconds(2)) { watcher, relay, ttl in
            // The server ends the session a TTL after the last contact; nothing tells a client cut
            // off (both backends' clients learn of it from the server once contact is back), so the
            // test waits out more than that.
            try await Task.sleep(for: ttl * 3)
            relay.heal()
            try await watcher.waitFor("coord: note: the session expired", inStderr: true)
            try await watcher.waitFor("coord: note: contact is back, in a new session; the group follows if it changed meanwhile", inStderr: true)
        }
    }

    /// Runs `coord members crew --watch --json` through a relay, cuts the relay once the empty
    /// group is printed and contact is noted lost, has another client join as `meanwhile`, then
    /// `restore` (given the session TTL) brings contact back; the member must then reach the
    /// output and the watcher exit cleanly.
    private static func watchCutOffWhileAMemberJoins(
        _ backend: TestBackend, ttl: Duration,
        restore: (SchedulerProcessTests.Background, TCPRelay, Duration) async throws -> Void
    ) async throws {
        let handles = try TestHandles(backend, ttl: ttl)
        let coord = try CoordProcess()
        defer { coord.removeDirectory() }
        let (relay, url) = try WorkerWaitsForStoreTests.relayed(backend, handles)
        defer { relay.stop() }

        let watcher = try await SchedulerProcessTests.Background(coord, ["--store", url, "members", "crew", "--watch", "--json"], name: "watch", keepStdout: true)
        defer { if watcher.process.isRunning { kill(watcher.process.processIdentifier, SIGKILL) } }

        try await watcher.waitFor(#"{"members":[]}"#)
        relay.cut()
        try await watcher.waitFor("coord: note: lost contact with the store", inStderr: true)
        let store = try await handles.open()
        _ = try await store.create(try Key("/groups/crew/meanwhile"), value: [], mode: .ephemeral)
        try await restore(watcher, relay, handles.ttl)
        try await watcher.waitFor(#""id":"meanwhile""#)

        let status = await watcher.terminate()
        #expect(status == 0, "\(watcher.stderr)")
        await handles.closeAll()
    }
}
