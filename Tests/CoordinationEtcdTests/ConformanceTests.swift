import Coordination
import CoordinationTesting
import Testing

/// The whole contract, check by check, on the shared etcd.
@Suite(.enabled("needs etcd (ETCD_ENDPOINTS, default 127.0.0.1:2379)") { await SharedEtcd.shouldRun() })
struct EtcdConformanceTests {
    @Test(arguments: ConformanceSuite.checks)
    func conformance(_ check: ConformanceCheck) async throws {
        try await ConformanceSuite(harness: EtcdHarness()).run(check)
    }
}
