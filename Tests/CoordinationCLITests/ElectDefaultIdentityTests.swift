import Coordination
import CoordinationRecipes
import CoordinationTestSupport
import Foundation
import Testing

/// "without it the identity is host name and process id" (README, `coord elect --identity`):
/// what other candidates and observers see as the leader. Only a given --identity was ever run.
@Suite("coord elect's default identity", .serverLoadLimit)
struct ElectDefaultIdentityTests {
    @Test("coord elect without --identity campaigns as host name and coord's process id", arguments: SchedulerProcessTests.servers)
    func defaultIdentityIsHostAndProcess(backend: TestBackend) async throws {
        try await CoordProcess.onFreshNamespace(of: backend) { store, url, _ in
            // The command's parent is coord itself.
            let candidate = try await LineProcess(
                CoordProcess.binary.path, ["--store", url, "elect", "ident", "--", "sh", "-c", "echo $PPID; exec sleep 600"])
            defer { candidate.stop() }
            let coordPID = try #require(Int32(try await candidate.nextLine(within: .seconds(20))))
            let leader = try await LeaderElection(store: store, path: try Key("/elections/ident"), identity: "observer").currentLeader()
            #expect(leader?.identityString == "\(ProcessInfo.processInfo.hostName):\(coordPID)")
            candidate.kill(SIGTERM)
            #expect(try await candidate.exitStatus(within: .seconds(20)) == 143)
        }
    }
}
