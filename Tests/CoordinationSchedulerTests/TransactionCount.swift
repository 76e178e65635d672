import Coordination
import CoordinationTestSupport
import Synchronization

/// Counts the transactions of a kind (``claims(of:)``, ``recordWrites(of:)``) made through the
/// stores it wraps, and fires `answered` as each counted one gets its answer, applied or refused.
final class TransactionCount: Sendable {
    let answered = Signal()
    private let matches: @Sendable ([Coordination.Operation]) -> Bool
    private let counted = Atomic<Int>(0)

    init(where matches: @escaping @Sendable ([Coordination.Operation]) -> Bool) { self.matches = matches }

    /// Claims of `job`'s runs: transactions that create an ephemeral key beneath the job.
    static func claims(of job: Key) -> TransactionCount {
        TransactionCount { operations in
            operations.contains { if case .create(let key, _, .ephemeral) = $0 { key.isUnder(job) } else { false } }
        }
    }

    /// Writes of `job`'s record: transactions that set it.
    static func recordWrites(of job: Key) -> TransactionCount {
        TransactionCount { operations in operations.contains { if case .set(job, _, _) = $0 { true } else { false } } }
    }

    var count: Int { counted.load(ordering: .relaxed) }

    func counting(_ base: any CoordinationStore) -> any CoordinationStore { Store(base: base, count: self) }

    private final class Store: ForwardingStore {
        let base: any CoordinationStore
        let count: TransactionCount

        init(base: any CoordinationStore, count: TransactionCount) {
            self.base = base
            self.count = count
        }

        func transaction(_ operations: [Coordination.Operation]) async throws -> [OperationResult] {
            guard count.matches(operations) else { return try await base.transaction(operations) }
            count.counted.add(1, ordering: .relaxed)
            defer { count.answered.fire() }
            return try await base.transaction(operations)
        }
    }
}
