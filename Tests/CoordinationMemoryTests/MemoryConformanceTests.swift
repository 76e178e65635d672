import CoordinationTesting
import Testing

@Suite("Conformance on the memory store")
struct MemoryConformanceTests {
    @Test(arguments: ConformanceSuite.checks)
    func conformance(_ check: ConformanceCheck) async throws {
        try await ConformanceSuite(harness: MemoryHarness()).run(check)
    }
}
