import Coordination
import CoordinationTestSupport
import Synchronization

/// Counts the claims of `job`'s runs made through the stores it wraps (transactions that create
/// an ephemeral key beneath the job), and fires `answered` as each gets its answer, won or refused.
final class ClaimAttemptCount: Sendable {
    let job: Key
    let answered = Signal()
    private let attempts = Atomic<Int>(0)

    init(job: Key) { self.job = job }

    var count: Int { attempts.load(ordering: .relaxed) }

    func counting(_ base: any CoordinationStore) -> any CoordinationStore { Store(base: base, count: self) }

    private final class Store: ForwardingStore {
        let base: any CoordinationStore
        let count: ClaimAttemptCount

        init(base: any CoordinationStore, count: ClaimAttemptCount) {
            self.base = base
            self.count = count
        }

        func transaction(_ operations: [Coordination.Operation]) async throws -> [OperationResult] {
            let claims = operations.contains { operation in
                if case .create(let key, _, .ephemeral) = operation { key.isUnder(count.job) } else { false }
            }
            guard claims else { return try await base.transaction(operations) }
            count.attempts.add(1, ordering: .relaxed)
            defer { count.answered.fire() }
            return try await base.transaction(operations)
        }
    }
}
