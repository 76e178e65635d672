import Foundation
import Testing

/// `coord job show --json` gives the spec "as a jobs file gives it", and `job add --json` the same
/// spec; but `--at +10m` (a time taken from the clock) printed `"at":1796605494224.5999`, which a
/// jobs file refuses as no whole number of milliseconds (status 7). On memory://: the spec is
/// printed as the flags built it, whatever the store.
@Suite("coord job add --json prints a spec that a jobs file takes back")
struct JobAddJSONReadsBackTests {
    @Test("an --at time prints as whole milliseconds and reads back as a jobs file", arguments: [
        "+10m", "+1.2345s", "2030-01-01T00:00:00.0005Z", "2030-01-01T00:00:00.123456+01:00",
    ])
    func atReadsBack(at: String) async throws {
        let coord = try CoordProcess()
        defer { coord.removeDirectory() }
        let added = try await coord.run(["--store", "memory://", "job", "add", "later", "--command", "true", "--at", at, "--json"])
        #expect(added.status == 0, "\(added.stderr)")
        let spec = try #require(try JSONSerialization.jsonObject(with: Data(added.stdout)) as? [String: Any], "\(added.stdoutText)")
        let schedule = try #require(spec["schedule"] as? [String: Any], "\(added.stdoutText)")
        let milliseconds = try #require(schedule["at"] as? Double, "\(added.stdoutText)")
        #expect(milliseconds.rounded() == milliseconds, "\(added.stdoutText)")

        let readBack = try await coord.run(["--store", "memory://", "job", "add", "--file", "-", "--json"], input: Array("[\(added.stdoutText)]".utf8))
        #expect(readBack.status == 0, "\(readBack.stderr)")
        #expect(readBack.stdoutText == added.stdoutText, "the same spec again")
    }
}
