import Coordination
import CoordinationScheduler
import CoordinationTestSupport
import Foundation
import Testing

/// A worker's session is replaced (expired, then renewed) between the worker reading it and its
/// claim reaching the store: the claim lands in the new session under the old session's
/// registration. Nothing ran, so the run must not lose an attempt: it is claimed again, in the
/// new session, and runs.
@Suite(.serverLoadLimit) struct ReplacedSessionClaimTests {
    /// The worker ran the claim as its session's loss: the attempt was recorded `abandoned` (the
    /// job has no retry left, so the run ended there) without its handler having done anything.
    /// The handler holds on until the run is held under the worker's registration in its new
    /// session, so that an attempt in the replaced session is stopped, not raced to its end.
    @Test(arguments: SchedulerBackend.all)
    func aClaimLandingInTheNextSessionCostsNoAttempt(backend: SchedulerBackend) async throws {
        try await Self.claimInTheNextSession(backend: backend, replyLost: false)
    }

    /// The same claim's reply is lost: the worker, finding its session replaced, gave up on
    /// learning what the claim came to, and the claim that landed in the new session held the run
    /// "running" under the old registration, with nobody at work on it, for as long as the new
    /// session lived (every takeover refused by that live claim, the worker's own included).
    @Test(arguments: SchedulerBackend.all)
    func aClaimWhoseReplyIsLostLandingInTheNextSessionIsGivenBack(backend: SchedulerBackend) async throws {
        try await Self.claimInTheNextSession(backend: backend, replyLost: true)
    }

    static func claimInTheNextSession(backend: SchedulerBackend, replyLost: Bool, test: String = #function) async throws {
        let cluster = try TestCluster(backend, test: test)
        defer { Task { await cluster.shutdown() } }
        let attempts = Shared<[Int]>([])
        let release = Signal()
        let handler: JobHandler = { context in
            attempts.withLock { $0.append(context.attempt) }
            await release.wait()
            try Task.checkCancellation()
            return RunOutput(message: "done")
        }
        let layout = cluster.layout
        let replaced = Shared<(old: String, new: String)?>(nil)
        let renewed = Signal()
        try await cluster.startWorker("w", handlers: ["work": handler]) { base in
            let sent: any CoordinationStore =
                replyLost ? FaultyTransactionStore(base, .replyLost, count: 1, when: Self.claims(in: layout)) : base
            return InterposedTransaction(sent, .before, when: Self.claims(in: layout)) {
                let old = base.session.sessionID
                try await backend.expire(base)
                let next = await base.waitForSession(within: .seconds(30)) {
                    $0.sessionID != old && ($0.state == .connected || $0.state == .reconnected)
                }
                replaced.withLock { $0 = next.map { (old, $0.sessionID) } }
                renewed.fire()
            }
        }
        let watcher = try await cluster.open()
        let releaser = Task {
            await renewed.wait()
            guard let session = replaced.value?.new else { return }
            // The worker's member key in its new session: the registration a claim must record.
            let memberKey = try layout.worker("w")
            let registration: Int64 = try await withDeadline("the worker to join in its new session") {
                var records: [Key: Record] = [:]
                for try await event in watcher.watch(memberKey) {
                    records.apply(event)
                    if let member = records[memberKey], member.ownerSession == session { return member.createRevision }
                }
                throw CoordinationError(.unavailable, "member watch ended")
            }
            _ = try await cluster.waitForRuns(of: "job", "the run held in the new session") {
                $0.first?.status == .running && $0.first?.registration == registration
            }
            release.fire()
        }
        defer { releaser.cancel() }
        let client = try await cluster.client()
        try await client.submit(JobSpec(id: "job", handler: "work"))
        let history = try await cluster.waitForHistory("the run's end") { !$0.isEmpty }
        let sessions = try #require(replaced.value, "the session was replaced before the claim went")
        #expect(sessions.old != sessions.new)
        #expect(history.map(\.outcome) == [.succeeded], "\(history.map { "\($0.outcome): \($0.message ?? "")" })")
        #expect(history.first?.attempt == 1, "the claim in the replaced session cost no attempt")
        #expect(attempts.value == [1])
        #expect(try await client.activeRuns(of: "job").isEmpty)
    }

    /// A run's claim: a transaction creating an ephemeral claim key (not a member or a leader's).
    static func claims(in layout: SchedulerLayout) -> @Sendable ([Coordination.Operation]) -> Bool {
        { operations in
            operations.contains { if case .create(let key, _, .ephemeral) = $0 { layout.run(ofClaim: key) != nil } else { false } }
        }
    }
}
