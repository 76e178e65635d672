import Foundation
import CoordinationTestSupport
import Testing

/// `coord bench` on the embedded store: it runs every loop and prints its table. Only the
/// table's shape is checked, never a figure.
@Suite("coord bench", .serverLoadLimit)
struct BenchCommandTests {
    @Test("coord bench on memory:// with no peer prints a row per measure and exits 0")
    func memory() async throws {
        let coord = try CoordProcess()
        defer { coord.removeDirectory() }
        let result = try await coord.run([
            "bench", "--store", "memory://", "--operations", "50", "--duration", "0.2s", "--peer", "none", "--claims", "8",
        ])
        #expect(result.stderr == "")
        #expect(result.status == 0)
        for measure in ["create p50", "get p99", "set p50", "delete p99", "pipelined get", "claims (8 no-op jobs"] {
            #expect(result.stdoutText.contains(measure), "a row for \(measure)")
        }
        #expect(result.stdoutText.contains("cores "))
        #expect(result.stdoutText.contains("memory://"))
    }

    @Test("--markdown prints a Markdown table")
    func markdown() async throws {
        let coord = try CoordProcess()
        defer { coord.removeDirectory() }
        let result = try await coord.run([
            "bench", "--store", "memory://", "--operations", "10", "--duration", "0.1s", "--peer", "none", "--markdown",
        ])
        #expect(result.status == 0)
        #expect(result.stdoutText.contains("| measure | coord | peer | ratio |"))
        #expect(result.stdoutText.contains("|---|---:|---:|---:|"))
    }

    @Test("a peer that cannot talk to the store is refused with status 64")
    func wrongPeer() async throws {
        let coord = try CoordProcess()
        defer { coord.removeDirectory() }
        let result = try await coord.run(["bench", "--store", "memory://", "--peer", "kazoo"])
        #expect(result.status == 64)
        #expect(result.stderr.hasPrefix("coord: "))
    }
}
