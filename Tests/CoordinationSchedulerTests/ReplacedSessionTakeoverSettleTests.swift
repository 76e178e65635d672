import Coordination
import CoordinationScheduler
import CoordinationTestSupport
import Foundation
import Testing

/// A takeover that only settles an abandoned attempt (no retry left, or a cancel request) runs
/// nothing, so its claim is kept even when it lands in a later session than the registration it
/// records: given back instead, the run went back to pending at the same attempt and its handler
/// ran again, though the attempt had been its last.
@Suite(.serverLoadLimit) struct ReplacedSessionTakeoverSettleTests {
    @Test(arguments: SchedulerBackend.all)
    func aSettleOnlyTakeoverLandingInTheNextSessionStillEndsTheRun(backend: SchedulerBackend) async throws {
        let cluster = try TestCluster(backend)
        defer { Task { await cluster.shutdown() } }
        let attempts = Shared<[Int]>([])
        let started = Signal()
        let handler: JobHandler = { context in
            attempts.withLock { $0.append(context.attempt) }
            started.fire()
            await untilCancelled()
            throw CancellationError()
        }
        let layout = cluster.layout
        let claimsSeen = Shared(0)
        let isClaim = ReplacedSessionClaimTests.claims(in: layout)
        // The worker's second claim is its takeover of its own run, abandoned with the session
        // the test ends: before it goes, that session too is replaced.
        let secondClaim: @Sendable ([Coordination.Operation]) -> Bool = { operations in
            guard isClaim(operations) else { return false }
            return claimsSeen.withLock { $0 += 1; return $0 == 2 }
        }
        let replaced = Shared(false)
        let handle = Shared<(any CoordinationStore)?>(nil)
        try await cluster.startWorker("w", handlers: ["work": handler]) { base in
            handle.withLock { $0 = base }
            return InterposedTransaction(base, .before, when: secondClaim) {
                let old = base.session.sessionID
                try await backend.expire(base)
                let next = await base.waitForSession(within: .seconds(30)) {
                    $0.sessionID != old && ($0.state == .connected || $0.state == .reconnected)
                }
                replaced.withLock { $0 = next != nil }
            }
        }
        let client = try await cluster.client()
        try await client.submit(JobSpec(id: "job", handler: "work"))
        try await withDeadline("the first attempt") { await started.wait() }
        // The attempt's session ends: its run is abandoned, and it was the job's only attempt.
        try await backend.expire(try #require(handle.value))
        let history = try await cluster.waitForHistory("the abandoned attempt's end") { !$0.isEmpty }
        #expect(replaced.value, "the takeover's session was replaced before its claim went")
        #expect(history.map(\.outcome) == [.abandoned], "\(history.map { "\($0.outcome): \($0.message ?? "")" })")
        #expect(attempts.value == [1], "the last attempt ran once")
        #expect(try await client.activeRuns(of: "job").isEmpty)
    }
}
