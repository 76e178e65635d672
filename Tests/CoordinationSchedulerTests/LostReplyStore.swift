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
