import Coordination
import CoordinationTestSupport
import Foundation
import Testing

/// `coord kv ls` prints each child's name, one per line, sorted; no test listed a key that had
/// children, so printing full paths instead (mutant D01 of the CLI audit) passed every test.
@Suite("coord kv ls prints the children's names", .serverLoadLimit)
struct KVListNamesTests {
    @Test("kv ls prints the children's names sorted, one per line; --json their records; a missing key is 2", arguments: SchedulerProcessTests.servers)
    func childrenByName(backend: TestBackend) async throws {
        try await CoordProcess.onFreshNamespace(of: backend) { store, url, coord in
            for path in ["/app/web", "/app/db/primary", "/app/cache"] {
                _ = try await store.put(Key(path), value: Array("v".utf8))
            }
            let app = try await coord.run(["--store", url, "kv", "ls", "/app"])
            #expect(app.status == 0, "\(app.stderr)")
            #expect(app.stdoutText == "cache\ndb\nweb\n", "\(app.stdoutText)")

            let root = try await coord.run(["--store", url, "kv", "ls", "/"])
            #expect(root.stdoutText == "app\n", "\(root.stdoutText)")

            let json = try await coord.run(["--store", url, "kv", "ls", "/app", "--json"])
            let keys = json.stdoutText.split(separator: "\n").compactMap {
                (try? JSONSerialization.jsonObject(with: Data($0.utf8)) as? [String: Any])?["key"] as? String
            }
            #expect(keys == ["/app/cache", "/app/db", "/app/web"], "\(json.stdoutText)")

            let missing = try await coord.run(["--store", url, "kv", "ls", "/nope"])
            #expect(missing.status == 2 && missing.stdout.isEmpty, "\(missing.stderr)")
        }
    }
}
