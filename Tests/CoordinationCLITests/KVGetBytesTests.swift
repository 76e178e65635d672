import Coordination
import CoordinationTestSupport
import Foundation
import Testing

/// `coord kv get` into a pipe or a file gives back the stored bytes and nothing else: the README's
/// `coord kv get /app/logo > logo.png` must give back the same file. A newline added off a
/// terminal (mutant C18 of the CLI audit) corrupted every binary value and passed every test.
@Suite("coord kv get prints the value's bytes exactly", .serverLoadLimit)
struct KVGetBytesTests {
    @Test("kv get into a pipe prints a binary value byte for byte, with no newline added", arguments: SchedulerProcessTests.servers)
    func binaryValueRoundTrips(backend: TestBackend) async throws {
        try await CoordProcess.onFreshNamespace(of: backend) { store, url, coord in
            // Not UTF-8, a NUL inside, and no final newline: any byte added or rewritten shows.
            let binary: [UInt8] = [0x89, 0x50, 0x4E, 0x47, 0x00, 0xFF, 0xFE, 0x0D, 0x61]
            _ = try await store.create(Key("/logo"), value: binary, mode: .persistent)
            _ = try await store.create(Key("/empty"), value: [], mode: .persistent)

            let get = try await coord.run(["--store", url, "kv", "get", "/logo"])
            #expect(get.status == 0, "\(get.stderr)")
            #expect(get.stdout == binary, "stdout: \(get.stdout)")
            #expect(get.stderr.isEmpty, "\(get.stderr)")

            let empty = try await coord.run(["--store", url, "kv", "get", "/empty"])
            #expect(empty.status == 0 && empty.stdout.isEmpty, "stdout: \(empty.stdout), \(empty.stderr)")

            // What put read from stdin comes back the same way.
            let put = try await coord.run(["--store", url, "kv", "put", "/copy"], input: binary)
            #expect(put.status == 0, "\(put.stderr)")
            #expect(try await coord.run(["--store", url, "kv", "get", "/copy"]).stdout == binary)
        }
    }
}
