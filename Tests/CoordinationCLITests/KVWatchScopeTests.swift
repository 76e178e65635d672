import Coordination
import CoordinationTestSupport
import Foundation
import Testing

/// `coord kv watch`'s scope flags reach the store: each snapshot holds exactly the keys its scope
/// covers, on a real server (memory:// starts empty in every coord process).
@Suite("coord kv watch scopes on a real server", .serverLoadLimit)
struct KVWatchScopeTests {
    @Test("kv watch without a flag, --children, --grandchildren and --subtree snapshot their own levels", arguments: SchedulerProcessTests.servers)
    func scopeFlagsSelectLevels(backend: TestBackend) async throws {
        let handles = try TestHandles(backend)
        try await TestHandles.closing(handles) {
            let store = try await handles.open()
            for path in ["/app/a/b/c", "/app/z", "/apple"] { _ = try await store.create(try Key(path), value: [], mode: .persistent) }
            let url = try #require(backend.url(handles.namespace))
            let coord = try CoordProcess()
            defer { coord.removeDirectory() }
            let expected: [(flags: [String], keys: [String])] = [
                ([], ["/app"]),
                (["--children"], ["/app", "/app/a", "/app/z"]),
                (["--grandchildren"], ["/app", "/app/a", "/app/a/b", "/app/z"]),
                (["--subtree"], ["/app", "/app/a", "/app/a/b", "/app/a/b/c", "/app/z"]),
                // Taken out of habit from kv get, ls and tree: the output is the same JSON lines.
                (["--children", "--json"], ["/app", "/app/a", "/app/z"]),
            ]
            for (flags, keys) in expected {
                let result = try await coord.run(["--store", url, "kv", "watch", "/app"] + flags, interruptAfterFirstLine: true)
                #expect(result.status == 0, "\(flags): \(result.stderr)")
                let first = try #require(result.stdoutText.split(separator: "\n").first, "\(flags): no output; \(result.stderr)")
                let snapshot = try JSONSerialization.jsonObject(with: Data(first.utf8)) as? [String: Any]
                #expect(snapshot?["type"] as? String == "snapshot", "\(flags)")
                let records = snapshot?["records"] as? [[String: Any]] ?? []
                #expect(records.compactMap { $0["key"] as? String } == keys, "\(flags)")
            }
        }
    }

    /// The root holds no record and never changes: watched alone, it printed an empty snapshot
    /// and nothing more while every key beneath it changed.
    @Test("kv watch / without a scope flag is a usage error naming the flags that watch the keys beneath it")
    func rootWithoutScopeIsRefused() async throws {
        let coord = try CoordProcess()
        defer { coord.removeDirectory() }
        let result = try await coord.run(["--store", "memory://", "kv", "watch", "/"])
        #expect(result.status == 64, "\(result.stderr)")
        #expect(result.stdoutText.isEmpty)
        #expect(result.stderr.hasPrefix("coord: kv watch / without a scope flag watches the namespace's root alone"), "\(result.stderr)")
        #expect(result.stderr.contains("add --children or --subtree"), "\(result.stderr)")
        let scoped = try await coord.run(["--store", "memory://", "kv", "watch", "/", "--children"], interruptAfterFirstLine: true)
        #expect(scoped.status == 0 && scoped.stdoutText.hasPrefix(#"{"records":[],"type":"snapshot"}"#), "\(scoped.stderr)")
    }
}
