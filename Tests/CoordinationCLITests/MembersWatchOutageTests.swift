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
    @Test("members --watch notes a lost connection and its return, and prints the member who joined meanwhile", arguments: SchedulerProcessTests.servers)
    func watchAcrossAnOutage(backend: TestBackend) async throws {
        let handles = try TestHandles(backend)
        let coord = try CoordProcess()
        defer { coord.removeDirectory() }
        let (relay, url) = try WorkerWaitsForStoreTests.relayed(backend, handles)
        defer { relay.stop() }

        let watcher = try SchedulerProcessTests.Background(coord, ["--store", url, "members", "crew", "--watch", "--json"], name: "watch", keepStdout: true)
        defer { if watcher.process.isRunning { kill(watcher.process.processIdentifier, SIGKILL) } }

        try await watcher.waitFor(#"{"members":[]}"#)
        relay.cut()
        try await watcher.waitFor("coord: note: lost contact with the store", inStderr: true)
        let store = try await handles.open()
        _ = try await store.create(try Key("/groups/crew/meanwhile"), value: [], mode: .ephemeral)
        relay.heal()
        try await watcher.waitFor("coord: note: contact is back; the group follows if it changed meanwhile", inStderr: true)
        try await watcher.waitFor(#""id":"meanwhile""#)

        let status = await watcher.terminate()
        #expect(status == 0, "\(watcher.stderr)")
        await handles.closeAll()
    }
}
