import Coordination
import CoordinationTestSupport
import Synchronization

/// Wraps a store and, for the first `lostReplies` transactions that create an ephemeral key,
/// applies them and then throws `connectionLoss`, as a network that loses the reply would.
final class LostReplyStore: ForwardingStore {
    let base: any CoordinationStore
    private let remaining: Mutex<Int>

    init(_ base: any CoordinationStore, lostReplies: Int) {
        self.base = base
        self.remaining = Mutex(lostReplies)
    }

    func transaction(_ operations: [Operation]) async throws -> [OperationResult] {
        let results = try await base.transaction(operations)
        let createsEphemeral = operations.contains { if case .create(_, _, .ephemeral) = $0 { true } else { false } }
        let lose = createsEphemeral && remaining.withLock { left in
            guard left > 0 else { return false }
            left -= 1
            return true
        }
        if lose { throw CoordinationError(.connectionLoss, "reply lost (simulated)") }
        return results
    }
}

/// Wraps a store and refuses the first `refusals` transactions that create an ephemeral key with
/// `unavailable`, without applying them: a claim that failed because the server could not be
/// reached (a leader election, a restart), not because another worker won.
final class RefusedClaimStore: ForwardingStore {
    let base: any CoordinationStore
    private let remaining: Mutex<Int>

    init(_ base: any CoordinationStore, refusals: Int) {
        self.base = base
        self.remaining = Mutex(refusals)
    }

    func transaction(_ operations: [Operation]) async throws -> [OperationResult] {
        let createsEphemeral = operations.contains { if case .create(_, _, .ephemeral) = $0 { true } else { false } }
        let refuse = createsEphemeral && remaining.withLock { left in
            guard left > 0 else { return false }
            left -= 1
            return true
        }
        if refuse { throw CoordinationError(.unavailable, "no server answered (simulated)") }
        return try await base.transaction(operations)
    }
}

/// Wraps a store and refuses with `unavailable`, without applying them, the first `refusals`
/// transactions that delete a claim: the write that ends a run, while its server cannot be reached.
final class RefusedSettleStore: ForwardingStore {
    let base: any CoordinationStore
    let claims: Key
    private let remaining: Mutex<Int>

    init(_ base: any CoordinationStore, claims: Key, refusals: Int) {
        self.base = base
        self.claims = claims
        self.remaining = Mutex(refusals)
    }

    func transaction(_ operations: [Operation]) async throws -> [OperationResult] {
        let releasesClaim = operations.contains { if case .delete(let key, _) = $0 { key.isUnder(claims) } else { false } }
        let refuse = releasesClaim && remaining.withLock { left in
            guard left > 0 else { return false }
            left -= 1
            return true
        }
        if refuse { throw CoordinationError(.unavailable, "no server answered (simulated)") }
        return try await base.transaction(operations)
    }
}
