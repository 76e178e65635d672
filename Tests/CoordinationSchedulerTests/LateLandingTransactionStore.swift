import Coordination
import CoordinationTestSupport
import Synchronization

/// Wraps a store and makes the first transaction that `matches` selects land late, as a request
/// does that a server had taken but not yet committed when its client gave up on it (an etcd
/// request past its deadline): the caller gets `timeout` with nothing applied, and the
/// transaction is applied only once the next read of a key it checks (a run record, for a claim,
/// which also checks its job's incarnation key and record) has been answered, so that read does
/// not show it.
final class LateLandingTransactionStore: ForwardingStore {
    private enum Stage {
        case armed
        case held([Operation])
        case landed
    }

    let base: any CoordinationStore
    private let matches: @Sendable ([Operation]) -> Bool
    private let stage = Mutex(Stage.armed)

    init(_ base: any CoordinationStore, when matches: @escaping @Sendable ([Operation]) -> Bool) {
        self.base = base
        self.matches = matches
    }

    /// Whether the held transaction has landed.
    var hasLanded: Bool { stage.withLock { if case .landed = $0 { true } else { false } } }

    func transaction(_ operations: [Operation]) async throws -> [OperationResult] {
        let holds = stage.withLock { stage in
            guard case .armed = stage, matches(operations) else { return false }
            stage = .held(operations)
            return true
        }
        guard holds else { return try await base.transaction(operations) }
        throw CoordinationError(.timeout, "timed out (simulated); the request lands after the next read of what it checks")
    }

    func get(_ key: Key) async throws -> Record? {
        let record = try await base.get(key)
        let late = stage.withLock { stage -> [Operation]? in
            guard case .held(let operations) = stage,
                operations.contains(where: { if case .check(key, _) = $0 { true } else { false } })
            else { return nil }
            stage = .landed
            return operations
        }
        // Refused or not, it is what the server did with the request.
        if let late { _ = try? await base.transaction(late) }
        return record
    }
}
