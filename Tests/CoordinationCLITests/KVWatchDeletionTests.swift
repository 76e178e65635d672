import Coordination
import CoordinationTestSupport
import Foundation
import Testing

/// `coord kv watch` prints every kind of change, a deletion too: a consumer applying the lines to
/// a map must see a key go, or it keeps a key the store no longer has. Only the JSON of a
/// deletion was checked (OutputFormatTests); the watch itself dropping them went unnoticed.
/// On real servers only: memory:// lives inside one coord process, so no other process can
/// change what that process watches.
@Suite("coord kv watch prints deletions", .serverLoadLimit)
struct KVWatchDeletionTests {
    @Test("kv watch prints a put and then a deletion made by another client, in order", arguments: SchedulerProcessTests.servers)
    func deletionIsPrinted(backend: TestBackend) async throws {
        let handles = try TestHandles(backend)
        try await TestHandles.closing(handles) {
            let store = try await handles.open()
            // Made first, so that the only put is the child's (a missing parent is created with it).
            _ = try await store.create(try Key("/w"), value: [], mode: .persistent)
            let url = try #require(backend.url(handles.namespace))
            let coord = try CoordProcess()
            defer { coord.removeDirectory() }
            let watcher = try await SchedulerProcessTests.Background(
                coord, ["--store", url, "kv", "watch", "/w", "--children"], name: "watch", keepStdout: true)
            defer { if watcher.process.isRunning { kill(watcher.process.processIdentifier, SIGKILL) } }

            try await watcher.waitFor(#""type":"snapshot""#)
            _ = try await store.create(try Key("/w/gone"), value: Array("x".utf8), mode: .persistent)
            try await watcher.waitFor(#""type":"put""#)
            try await store.delete(try Key("/w/gone"), ifVersion: nil, recursive: false)
            try await watcher.waitFor(#"{"key":"/w/gone","type":"delete"}"#)

            #expect(await watcher.terminate() == 0, "\(watcher.stderr)")
            let types = watcher.stdout.split(separator: "\n").compactMap { line in
                (try? JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any])?["type"] as? String
            }
            #expect(types == ["snapshot", "put", "delete"], "\(watcher.stdout)")
        }
    }
}
