import Coordination
import CoordinationLocalServers
import CoordinationTestSupport
import Foundation
import Testing

/// `coord kv watch` across an outage: it says on stderr when contact was lost and when it came
/// back, and the change made meanwhile still reaches its output.
@Suite("coord kv watch across a lost connection", .serverLoadLimit)
struct KVWatchOutageTests {
    @Test("kv watch notes a lost connection and its return, and prints the change made meanwhile", arguments: SchedulerProcessTests.servers)
    func watchAcrossAnOutage(backend: TestBackend) async throws {
        let handles = try TestHandles(backend)
        let coord = try CoordProcess()
        defer { coord.removeDirectory() }
        let (relay, url) = try WorkerWaitsForStoreTests.relayed(backend, handles)
        defer { relay.stop() }

        let watcher = try await SchedulerProcessTests.Background(coord, ["--store", url, "kv", "watch", "/w", "--subtree"], name: "watch", keepStdout: true)
        defer { if watcher.process.isRunning { kill(watcher.process.processIdentifier, SIGKILL) } }

        try await watcher.waitFor(#""type":"snapshot""#)
        relay.cut()
        try await watcher.waitFor("coord: note: lost contact with the store", inStderr: true)
        let store = try await handles.open()
        _ = try await store.create(try Key("/w/meanwhile"), value: Array("x".utf8), mode: .persistent)
        relay.heal()
        try await watcher.waitFor("coord: note: contact is back", inStderr: true)
        try await watcher.waitFor("/w/meanwhile")

        let status = await watcher.terminate()
        #expect(status == 0, "\(watcher.stderr)")
        await handles.closeAll()
    }

    /// Cut off past its session's TTL, the handle starts a new session once contact is back:
    /// stderr says contact is back then too, not only after a reconnect within the session (it
    /// said only that the session had expired, then went on silently).
    @Test("kv watch cut off until its session expired notes the expiry and that contact is back", arguments: SchedulerProcessTests.servers)
    func watchAcrossAnExpiry(backend: TestBackend) async throws {
        let handles = try TestHandles(backend, ttl: .seconds(2))
        let coord = try CoordProcess()
        defer { coord.removeDirectory() }
        let (relay, url) = try WorkerWaitsForStoreTests.relayed(backend, handles)
        defer { relay.stop() }
        let watcher = try await LineProcess("/bin/sh", ["-c", "exec \"$0\" \"$@\" 2>&1", CoordProcess.binary.path, "--store", url, "kv", "watch", "/w"])
        defer { watcher.stop() }
        var lines: [String] = []
        func waitFor(_ text: String) async throws {
            while !(lines.last ?? "").contains(text) {
                do { lines.append(try await watcher.nextLine(within: .seconds(30))) } catch { Issue.record("so far: \(lines)"); throw error }
            }
        }
        try await waitFor(#""type":"snapshot""#)
        relay.cut()
        try await waitFor("coord: note: lost contact with the store")
        // The server ends the session a TTL after the last contact; nothing tells a client cut
        // off (both backends' clients learn of it from the server once contact is back), so the
        // test waits out more than that.
        try await Task.sleep(for: handles.ttl * 3)
        relay.heal()
        try await waitFor("coord: note: the session expired")
        try await waitFor("coord: note: contact is back, in a new session; what changed meanwhile follows")
        watcher.kill(SIGTERM)
        #expect(try await watcher.exitStatus(within: .seconds(20)) == 0)
        await handles.closeAll()
    }
}
