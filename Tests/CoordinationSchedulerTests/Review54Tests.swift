import Coordination
import CoordinationScheduler
import CoordinationTestSupport
import Foundation
import Synchronization
import Testing

/// A claim sent as its worker's session was replaced lands in the new session; its reply lost,
/// the worker reads back what became of it. The first reads after contact came back fail (the
/// network has not quite recovered): the worker must keep reading while the new session, which
/// holds the claim if it landed, lives. Given up after one failed read, the claim held the run
/// "running" under the old registration with nobody at work on it, every takeover (the worker's
/// own included) refused by that live claim, for as long as the new session lived.
@Suite(.serverLoadLimit) struct Review54Tests {
    @Test(arguments: SchedulerBackend.all)
    func aLandedClaimInTheNextSessionIsFoundThoughTheFirstReadsFail(backend: SchedulerBackend) async throws {
        let cluster = try TestCluster(backend, test: #function)
        defer { Task { await cluster.shutdown() } }
        let attempts = Shared<[Int]>([])
        let handler = recordingAttempts(attempts)
        let layout = cluster.layout
        let replaced = Shared<Bool>(false)
        let store = Shared<ClaimInTheNextSessionStore?>(nil)
        try await cluster.startWorker("w", handlers: ["work": handler]) { base in
            let wrapped = ClaimInTheNextSessionStore(base, layout: layout, failingReads: 3) {
                let old = base.session.sessionID
                try await backend.expire(base)
                let next = await base.waitForSession(within: .seconds(30)) {
                    $0.sessionID != old && ($0.state == .connected || $0.state == .reconnected)
                }
                replaced.withLock { $0 = next != nil }
            }
            store.withLock { $0 = wrapped }
            return wrapped
        }
        let client = try await cluster.client()
        try await client.submit(JobSpec(id: "job", handler: "work"))
        let history = try await cluster.waitForHistory("the run's end") { !$0.isEmpty }
        #expect(replaced.value, "the session was replaced before the claim went")
        #expect(store.value?.readsFailed == 3, "the reads of the run after the lost reply failed")
        #expect(history.map(\.outcome) == [.succeeded], "\(history.map { "\($0.outcome): \($0.message ?? "")" })")
        #expect(history.first?.attempt == 1, "the claim in the replaced session cost no attempt")
        #expect(attempts.value == [1])
        #expect(try await client.activeRuns(of: "job").isEmpty)
    }
}

/// At the first claim of a run: runs `replaceSession` before the claim goes, applies the claim,
/// loses its reply, and makes the next `failingReads` reads of that run's record fail with
/// `unavailable`, as a network that has not recovered yet would.
final class ClaimInTheNextSessionStore: ForwardingStore {
    let base: any CoordinationStore
    private let layout: SchedulerLayout
    private let failingReads: Int
    private let replaceSession: @Sendable () async throws -> Void
    private let done = Atomic<Bool>(false)
    /// The run whose reads fail, and how many are still to.
    private let failing = Mutex<(run: Key?, left: Int, failed: Int)>((nil, 0, 0))

    init(
        _ base: any CoordinationStore, layout: SchedulerLayout, failingReads: Int,
        replaceSession: @escaping @Sendable () async throws -> Void
    ) {
        self.base = base
        self.layout = layout
        self.failingReads = failingReads
        self.replaceSession = replaceSession
    }

    /// How many reads were made to fail.
    var readsFailed: Int { failing.withLock { $0.failed } }

    func get(_ key: Key) async throws -> Record? {
        let fail = failing.withLock { state in
            guard state.run == key, state.left > 0 else { return false }
            state.left -= 1
            state.failed += 1
            return true
        }
        if fail { throw CoordinationError(.unavailable, "no server answered (simulated)") }
        return try await base.get(key)
    }

    func transaction(_ operations: [Coordination.Operation]) async throws -> [OperationResult] {
        let run = operations.lazy.compactMap { [layout] operation -> Key? in
            if case .create(let key, _, .ephemeral) = operation { layout.run(ofClaim: key) } else { nil }
        }.first
        guard let run, !done.exchange(true, ordering: .relaxed) else { return try await base.transaction(operations) }
        try await replaceSession()
        _ = try await base.transaction(operations)
        failing.withLock { $0 = (run, failingReads, 0) }
        throw CoordinationError(.connectionLoss, "reply lost (simulated)")
    }
}
