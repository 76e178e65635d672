import Coordination
import CoordinationTestSupport
import Foundation
import Testing

/// `kv rm` on a key with children said "delete them first or delete recursively", the store's
/// words, which name no flag: the user is left to find `--recursive` in the help.
@Suite("coord kv rm on a key with children names --recursive", .serverLoadLimit)
struct KVRemoveChildrenHintTests {
    @Test("kv rm of a key with children exits 5, names the key and the command that deletes it all; nothing is deleted", arguments: SchedulerProcessTests.servers)
    func refusalNamesRecursive(backend: TestBackend) async throws {
        try await CoordProcess.onFreshNamespace(of: backend) { store, url, coord in
            _ = try await store.put(Key("/app/config/color"), value: Array("blue".utf8))
            for arguments in [["/app"], ["/app", "--if-version", "0"]] {
                let rm = try await coord.run(["--store", url, "kv", "rm"] + arguments)
                #expect(rm.status == 5, "\(rm.stderr)")
                #expect(rm.stdout.isEmpty)
                #expect(
                    rm.stderrLines == [
                        "coord: key /app has children; delete them first or delete recursively: coord kv rm /app --recursive deletes it and everything beneath it"
                    ], "\(rm.stderr)")
                #expect(try await store.get(Key("/app/config/color"))?.value == Array("blue".utf8))
            }
        }
    }
}
