import Coordination
import CoordinationTestSupport

/// Wraps a store and fires `refused` each time a transaction that `matches` selects is refused
/// with `code`: a test can wait for a write to have been tried and turned down, rather than
/// guess when it has been.
final class RefusedTransactionSignal: ForwardingStore {
    let base: any CoordinationStore
    let refused = Signal()
    private let code: CoordinationError.Code
    private let matches: @Sendable ([Coordination.Operation]) -> Bool

    init(
        _ base: any CoordinationStore, code: CoordinationError.Code,
        when matches: @escaping @Sendable ([Coordination.Operation]) -> Bool
    ) {
        self.base = base
        self.code = code
        self.matches = matches
    }

    func transaction(_ operations: [Coordination.Operation]) async throws -> [OperationResult] {
        do {
            return try await base.transaction(operations)
        } catch let error as CoordinationError where error.code == code && matches(operations) {
            refused.fire()
            throw error
        }
    }
}
