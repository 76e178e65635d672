import Coordination
import CoordinationTesting
import Testing

/// The whole conformance suite on ZooKeeper: every check must pass (no expected deviations).
@Suite(.enabled(if: ZooKeeperTestEnvironment.runServerTests, ZooKeeperTestEnvironment.skipReason))
struct ZooKeeperConformanceTests {
    @Test(arguments: ConformanceSuite.checks)
    func conformance(_ check: ConformanceCheck) async throws {
        try await ConformanceSuite(harness: ZooKeeperHarness()).run(check)
    }
}
