import Coordination
import CoordinationTestSupport
import Foundation
import Testing

/// `kv watch --subtree` covers every level, `--great-grandchildren` three: the scope test's tree was
/// three levels deep, where the two agree, so --subtree watching only three levels (mutant D08 of
/// the CLI audit) passed every test, and --great-grandchildren was never run.
@Suite("coord kv watch --subtree and --great-grandchildren below three levels", .serverLoadLimit)
struct KVWatchDeepScopeTests {
    @Test("--great-grandchildren snapshots three levels below the key, --subtree every level", arguments: SchedulerProcessTests.servers)
    func deepLevels(backend: TestBackend) async throws {
        try await CoordProcess.onFreshNamespace(of: backend) { store, url, coord in
            _ = try await store.create(try Key("/app/a/b/c/d/e"), value: [], mode: .persistent)
            let expected: [(flag: String, keys: [String])] = [
                ("--great-grandchildren", ["/app", "/app/a", "/app/a/b", "/app/a/b/c"]),
                ("--subtree", ["/app", "/app/a", "/app/a/b", "/app/a/b/c", "/app/a/b/c/d", "/app/a/b/c/d/e"]),
            ]
            for (flag, keys) in expected {
                let result = try await coord.run(["--store", url, "kv", "watch", "/app", flag], interruptAfterFirstLine: true)
                #expect(result.status == 0, "\(flag): \(result.stderr)")
                let first = try #require(result.stdoutText.split(separator: "\n").first, "\(flag): no output; \(result.stderr)")
                let snapshot = try JSONSerialization.jsonObject(with: Data(first.utf8)) as? [String: Any]
                let records = snapshot?["records"] as? [[String: Any]] ?? []
                #expect(records.compactMap { $0["key"] as? String } == keys, "\(flag): \(first)")
            }
        }
    }
}
