import CoordinationTesting
import Testing

/// Every check of the conformance suite on the embedded store, each its own test case, shown
/// under its check's name.
@Suite("Conformance on the memory store")
struct MemoryConformanceTests {
    @Test(arguments: ConformanceSuite.checks)
    func conformance(_ check: ConformanceCheck) async throws {
        try await ConformanceSuite(harness: MemoryHarness()).run(check)
    }
}
