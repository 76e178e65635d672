@testable import CoordinationCLI
import Coordination
import CoordinationTestSupport
import Foundation
import Testing

/// `kv set` on a key that does not exist said only "no such key /logo", leaving the fix (README's
/// own `kv set /logo … < logo.png`, pasted on a fresh store, gets there) unsaid.
@Suite("coord kv set on a missing key", .serverLoadLimit)
struct KVSetMissingKeyTests {
    @Test("kv set on a missing key exits 2, names the key and says kv put creates it; nothing is written", arguments: SchedulerProcessTests.servers)
    func missingKeyNamesPut(backend: TestBackend) async throws {
        try await CoordProcess.onFreshNamespace(of: backend) { store, url, coord in
            for arguments in [["/logo"], ["/logo", "--if-version", "1"], ["/logo", "png"]] {
                let set = try await coord.run(["--store", url, "kv", "set"] + arguments, input: Array("png".utf8))
                #expect(set.status == 2, "\(set.stderr)")
                #expect(set.stdout.isEmpty)
                #expect(set.stderrLines.count == 1, "\(set.stderr)")
                let line = set.stderrLines.first ?? ""
                #expect(line.hasPrefix("coord: no such key /logo; kv set only changes a key that exists: create it with coord kv put /logo"), "\(line)")
                #expect(try await store.get(Key("/logo")) == nil)
            }
        }
    }

    /// On memory:// (each coord process's own store) the fix comes first, then why the key is not there.
    @Test("kv set on memory:// says kv put creates the key, then that memory:// keeps nothing between commands")
    func missingKeyOnMemory() async throws {
        let coord = try CoordProcess()
        defer { coord.removeDirectory() }
        let set = try await coord.run(["kv", "set", "/logo", "png"])
        #expect(set.status == 2 && set.stdout.isEmpty, "\(set.stderr)")
        #expect(set.stderrLines.first?.hasPrefix("coord: no such key /logo; kv set only changes a key that exists: create it with coord kv put /logo") == true, "\(set.stderr)")
        #expect(set.stderrLines.first?.hasSuffix("(note: \(CommandContext.memoryKeysNote))") == true, "\(set.stderr)")
    }
}
