import Coordination
import CoordinationScheduler
import CoordinationTestSupport
import Foundation
import Testing

/// A worker's session is replaced as its claim is sent, so the claim lands in the new session and
/// is given back (``ReplacedSessionClaimTests``); and replaced again as the give-back is sent,
/// which takes the claim with it.
@Suite(.serverLoadLimit) struct RepeatedSessionReplacementTests {
    /// The give-back was refused for its missing claim and given up: the run sat "running" until
    /// taken over as abandoned, and the job, with no retry left, ended without its handler ever
    /// starting. Given back all the same, the run is claimed again, at the same attempt, and runs.
    @Test(arguments: SchedulerBackend.all)
    func aRunIsGivenBackAfterTheSessionItsClaimLandedInIsReplacedToo(backend: SchedulerBackend) async throws {
        let cluster = try TestCluster(backend)
        defer { Task { await cluster.shutdown() } }
        let attempts = Shared<[Int]>([])
        let handler = recordingAttempts(attempts)
        let layout = cluster.layout
        let sessions = Shared<[String]>([])
        try await cluster.startWorker("w", handlers: ["work": handler]) { base in
            let replace: @Sendable () async throws -> Void = {
                let old = base.session.sessionID
                try await backend.expire(base)
                let next = await base.waitForSession(within: .seconds(30)) {
                    $0.sessionID != old && ($0.state == .connected || $0.state == .reconnected)
                }
                sessions.withLock { $0.append(contentsOf: [old] + (next.map { [$0.sessionID] } ?? [])) }
            }
            // Outermost, the claim; beneath it, the first write releasing a claim (the give-back).
            let givingBack = InterposedTransaction(base, .before, when: FaultyTransactionStore.releasesClaim(in: layout), meanwhile: replace)
            return InterposedTransaction(givingBack, .before, when: ReplacedSessionClaimTests.claims(in: layout), meanwhile: replace)
        }
        let client = try await cluster.client()
        try await client.submit(JobSpec(id: "job", handler: "work"))
        let history = try await cluster.waitForHistory("the run's end") { !$0.isEmpty }
        #expect(Set(sessions.value).count == 3, "replaced twice: \(sessions.value)")
        #expect(history.map(\.outcome) == [.succeeded], "\(history.map { "\($0.outcome): \($0.message ?? "")" })")
        #expect(history.first?.attempt == 1, "the claims in replaced sessions cost no attempt")
        #expect(attempts.value == [1])
        #expect(try await client.activeRuns(of: "job").isEmpty)
    }
}
