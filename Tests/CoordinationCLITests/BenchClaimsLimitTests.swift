import Coordination
import CoordinationTestSupport
import Logging
import Testing

@testable import CoordinationCLI

/// The claims measure gives up when its jobs have not all run within its time limit: a failure of
/// the measure (coord exits 1), not a store out of reach (9), since the store answered throughout.
@Suite(.serverLoadLimit)
struct BenchClaimsLimitTests {
    @Test("jobs not run within the limit end the measure with BenchFailure, naming the count and the fix", arguments: TestBackend.all)
    func jobsNotRunInTimeAreTheBenchsFailure(backend: TestBackend) async throws {
        let handles = try TestHandles(backend)
        // No worker: the store answers every request, and no job ever runs.
        let claims = BenchClaims(
            jobs: 3, workers: 0, capacity: 1, timeLimit: .milliseconds(300), open: { try await handles.open() },
            logger: Logger(label: "test.bench-claims"))
        do {
            _ = try await claims.run()
            Issue.record("the measure returned, though no job could run")
        } catch let failure as BenchFailure {
            #expect(failure.description.hasPrefix("0 of 3 no-op jobs had run after 300ms, the bench's limit; "), "\(failure)")
            #expect(failure.description.contains("give fewer --claims and --claim-warm-up"), "\(failure)")
        }
        await handles.closeAll()
    }
}
