import CoordinationTestSupport
import Foundation
import Testing

/// The token `coord lock` and `coord elect` hand their command is "larger for every later holder"
/// (README): storage fences an older holder off by it. Tests only checked that it was a number,
/// so a constant token (mutant D02 of the CLI audit) passed every test.
@Suite("coord lock's and elect's tokens grow from holder to holder", .serverLoadLimit)
struct HeldTokenIncreasesTests {
    @Test("each later holder of a lock or a leadership gets a larger token", arguments: SchedulerProcessTests.servers)
    func tokensIncrease(backend: TestBackend) async throws {
        try await CoordProcess.onFreshNamespace(of: backend) { _, url, coord in
            for (subcommand, variable) in [("lock", "COORD_FENCING_TOKEN"), ("elect", "COORD_LEADER_TOKEN")] {
                var tokens: [Int64] = []
                for _ in 0..<3 {
                    let held = try await coord.run(["--store", url, subcommand, "tokens", "--", "sh", "-c", "echo \"$\(variable)\""])
                    #expect(held.status == 0, "\(held.stderr)")
                    tokens.append(try #require(Int64(held.stdoutText.trimmingCharacters(in: .newlines)), "\(subcommand): '\(held.stdoutText)'"))
                }
                #expect(tokens[0] < tokens[1] && tokens[1] < tokens[2], "\(subcommand) tokens: \(tokens)")
            }
        }
    }
}
