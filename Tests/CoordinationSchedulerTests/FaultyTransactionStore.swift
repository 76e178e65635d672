import Coordination
import CoordinationScheduler
import CoordinationTestSupport
import Synchronization

/// Wraps a store and makes the first `count` transactions that `matches` selects fail as a
/// network or a server would: a lost reply (applied, then `connectionLoss`) or a refusal (not
/// applied, `unavailable`); then, optionally, its next `failingReads` reads fail with `unavailable`
/// too (the network has not recovered yet).
final class FaultyTransactionStore: ForwardingStore {
    enum Fault: Sendable {
        /// The transaction is applied, then its reply is lost.
        case replyLost
        /// No server answered: nothing is applied.
        case refused
        /// The request timed out, nothing applied, and the error names the first operation (as
        /// ZooKeeper's C client copies a time-out into every operation's result).
        case timedOutNamingAnOperation
    }

    let base: any CoordinationStore
    private let fault: Fault
    private let matches: @Sendable ([Operation]) -> Bool
    private let remaining: Mutex<Int>
    private let failingReads: Int
    private let readsToFail = Mutex(0)

    init(
        _ base: any CoordinationStore, _ fault: Fault, count: Int, failingReads: Int = 0,
        when matches: @escaping @Sendable ([Operation]) -> Bool
    ) {
        self.base = base
        self.fault = fault
        self.matches = matches
        self.remaining = Mutex(count)
        self.failingReads = failingReads
    }

    func get(_ key: Key) async throws -> Record? {
        let fail = readsToFail.withLock { left in
            guard left > 0 else { return false }
            left -= 1
            return true
        }
        if fail { throw CoordinationError(.unavailable, "no server answered (simulated)") }
        return try await base.get(key)
    }

    /// A claim: the only transactions that create an ephemeral key.
    static func claim(_ operations: [Operation]) -> Bool {
        operations.contains { if case .create(_, _, .ephemeral) = $0 { true } else { false } }
    }

    /// The write that ends a run: it deletes the run's claim.
    static func releasesClaim(in layout: SchedulerLayout) -> @Sendable ([Operation]) -> Bool {
        { operations in operations.contains { if case .delete(let key, _) = $0 { layout.run(ofClaim: key) != nil } else { false } } }
    }

    /// A progress report: the one write of a run that checks its claim exists.
    static func reportsProgress(in layout: SchedulerLayout) -> @Sendable ([Operation]) -> Bool {
        { operations in operations.contains { if case .check(let key, nil) = $0 { layout.run(ofClaim: key) != nil } else { false } } }
    }

    func transaction(_ operations: [Operation]) async throws -> [OperationResult] {
        let failing = matches(operations) && remaining.withLock { left in
            guard left > 0 else { return false }
            left -= 1
            return true
        }
        guard failing else { return try await base.transaction(operations) }
        readsToFail.withLock { $0 = failingReads }
        switch fault {
        case .replyLost:
            _ = try await base.transaction(operations)
            throw CoordinationError(.connectionLoss, "reply lost (simulated)")
        case .refused:
            throw CoordinationError(.unavailable, "no server answered (simulated)")
        case .timedOutNamingAnOperation:
            throw CoordinationError(.timeout, "timed out (simulated)").inTransaction(operation: 0, of: operations.count)
        }
    }
}
