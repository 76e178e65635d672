import Coordination
import CoordinationTestSupport
@testable import CoordinationScheduler
import Foundation
import Synchronization
import Testing

/// A claim that landed in a replaced session is being given back (``RunExecution/giveBack(_:control:)``)
/// when that session ends too, taking the claim with it, and another worker takes the run over
/// before the give-back lands.
///
/// What the store then holds is, to every reader, a run left `running` by a claim whose session
/// ended before its worker wrote anything: exactly what a worker that died mid-run leaves. Neither
/// the claim (gone with its session) nor the run record (the claim's own write) says in which session
/// the claim landed, so no taker can tell the two apart; and nothing the giver writes can land
/// first, since the race opens as that session ends. The taker records the attempt once, as
/// `abandoned` (the documented meaning: its session ended while the claim held the run), and
/// the run goes on at its next attempt; the refused give-back writes nothing.
@Suite(.serverLoadLimit) struct GiveBackTakenOverTests {
    /// Pins that outcome: one `abandoned` entry naming the giver's attempt, the taker's next
    /// attempt, no `handedBack` entry, and the giver's handler never started.
    @Test(arguments: SchedulerBackend.all)
    func aTakeoverBeatingAGiveBackRecordsTheAttemptOnceAsAbandoned(backend: SchedulerBackend) async throws {
        let cluster = try TestCluster(backend)
        defer { Task { await cluster.shutdown() } }
        let layout = cluster.layout
        let giverStarts = Shared(0)
        let held = Signal()
        let release = Signal()
        let refused = Signal()
        let gate = Shared<HeldGiveBack?>(nil)
        try await cluster.startWorker(
            "giver",
            handlers: ["work": { _ in
                giverStarts.withLock { $0 += 1 }
                return RunOutput()
            }]
        ) { base in
            let replace: @Sendable () async throws -> Void = {
                let old = base.session.sessionID
                try await backend.expire(base)
                _ = await base.waitForSession(within: .seconds(30)) {
                    $0.sessionID != old && ($0.state == .connected || $0.state == .reconnected)
                }
            }
            // Innermost, the give-back sent without the claim's deletion (its claim gone): held.
            let holding = HeldGiveBack(base, layout: layout, held: held, release: release, refused: refused)
            gate.withLock { $0 = holding }
            // Beneath the claim, the first give-back (it deletes the claim): its session is replaced first.
            let givingBack = InterposedTransaction(
                holding, .before, when: FaultyTransactionStore.releasesClaim(in: layout), meanwhile: replace)
            // Outermost, the claim: it lands in the session that replaces the one it was sent in.
            return InterposedTransaction(givingBack, .before, when: ReplacedSessionClaimTests.claims(in: layout), meanwhile: replace)
        }
        let client = try await cluster.client()
        try await client.submit(JobSpec(id: "job", handler: "work", retry: RetryPolicy(maxRetries: 1, backoffBase: .milliseconds(10))))
        try await withDeadline("the give-back without its claim to be sent") { await held.wait() }

        // Another class of worker (one more handler) owns every bucket of its class, so it sees the run.
        let takerAttempts = Shared<[Int]>([])
        try await cluster.startWorker(
            "taker", handlers: ["work": recordingAttempts(takerAttempts), "other": { _ in RunOutput() }])
        _ = try await cluster.waitForHistory("the takeover's entry") { $0.contains { $0.outcome == .abandoned } }
        release.fire()
        try await withDeadline("the give-back to be refused") { await refused.wait() }
        let history = try await cluster.waitForHistory("the taker's attempt") { $0.contains { $0.outcome == .succeeded } }

        #expect(history.map(\.outcome) == [.abandoned, .succeeded], "\(history.map { "\($0.outcome): \($0.message ?? "")" })")
        let abandoned = try #require(history.first)
        #expect(abandoned.worker == "giver" && abandoned.attempt == 1, "the entry names the given-back attempt")
        #expect(abandoned.message == "worker giver lost its session; taken over by taker")
        #expect(abandoned.token == gate.value?.claimToken, "the entry names the claim that landed, by its token")
        #expect(history.last?.worker == "taker" && history.last?.attempt == 2)
        #expect(takerAttempts.value == [2])
        #expect(giverStarts.value == 0, "the giver's handler never started")
        #expect(try await client.activeRuns(of: "job").isEmpty)
    }
}

/// Holds the first give-back written without a claim's deletion (a fenced `set` of the run to
/// pending, its claim gone) until `release`, then sends it and fires `refused` if the store
/// refused it. Notes the token of the claim the run record carries when the give-back is held.
private final class HeldGiveBack: ForwardingStore {
    let base: any CoordinationStore
    private let layout: SchedulerLayout
    private let held: Signal
    private let release: Signal
    private let refused: Signal
    private let done = Atomic<Bool>(false)
    private let token = Mutex<Int64?>(nil)

    init(_ base: any CoordinationStore, layout: SchedulerLayout, held: Signal, release: Signal, refused: Signal) {
        self.base = base
        self.layout = layout
        self.held = held
        self.release = release
        self.refused = refused
    }

    /// The claim's token as the run record told it when the give-back was held.
    var claimToken: Int64? { token.withLock { $0 } }

    func transaction(_ operations: [Coordination.Operation]) async throws -> [OperationResult] {
        guard isGiveBackWithoutClaim(operations), !done.exchange(true, ordering: .relaxed) else {
            return try await base.transaction(operations)
        }
        if case .check(let runKey, _) = operations.first, let current = try await base.get(runKey),
            let record = try? current.decoded(RunRecord.self)
        {
            token.withLock { $0 = record.attemptToken(version: current.version, modRevision: current.modRevision) }
        }
        held.fire()
        await release.wait()
        do {
            return try await base.transaction(operations)
        } catch {
            refused.fire()
            throw error
        }
    }

    private func isGiveBackWithoutClaim(_ operations: [Coordination.Operation]) -> Bool {
        let touchesClaim = operations.contains { layout.run(ofClaim: $0.key) != nil }
        let setsPending = operations.contains { operation in
            guard case .set(let key, let value, _) = operation, layout.isRun(key),
                let record = try? SchedulerJSON.decode(RunRecord.self, from: value, key: key)
            else { return false }
            return record.status == .pending
        }
        return !touchesClaim && setsPending
    }
}
