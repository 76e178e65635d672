import Coordination
import Testing

@testable import CoordinationCLI

/// The claims bench's tally of handler calls: it ends the timed part when every job ran, and
/// fails the bench when a job ran twice.
struct HandlerTallyTests {
    @Test func returnsOnceEveryJobRan() async throws {
        let tally = HandlerTally(expected: 3)
        let waiting = Task { try await tally.allRan() }
        for job in ["a", "b", "c"] { tally.note(job) }
        try await waiting.value
        #expect(tally.count == 3)
    }

    @Test func aJobThatRanTwiceFailsTheWait() async throws {
        let tally = HandlerTally(expected: 3)
        tally.note("a")
        tally.note("a")
        // The bench's own failure (status 1), not the store's: CoordinationError.unavailable said it was out of reach (9).
        await #expect(throws: BenchFailure.self) { try await tally.allRan() }
    }

    @Test func aCancelledWaitEnds() async throws {
        let tally = HandlerTally(expected: 2)
        let waiting = Task { try await tally.allRan() }
        waiting.cancel()
        await #expect(throws: CancellationError.self) { try await waiting.value }
    }
}
