import Coordination
import CoordinationTestSupport
import Synchronization

/// Wraps a store and makes some of its calls fail, as a server briefly out of reach would: the
/// first `deletes` deletes fail with `deleteError` (`unavailable` unless told) and the first
/// `listings` children listings
/// with `connectionLoss` (nothing done), the first `lostCreateReplies` creates (alone, or in a
/// transaction) are applied
/// but answered with `lostReplyError` (`connectionLoss` unless told; either way the outcome is
/// unknown to the caller), and the first `reads` gets fail with `connectionLoss`.
final class FlakyStore: ForwardingStore {
    let base: any CoordinationStore
    private struct Budget {
        var deletes: Int
        var listings: Int
        var lostCreateReplies: Int
        var reads: Int
        var failed = 0
    }
    private let budget: Mutex<Budget>
    private let deleteError: CoordinationError.Code
    private let lostReplyError: CoordinationError.Code

    init(
        _ base: any CoordinationStore, deletes: Int = 0, deleteError: CoordinationError.Code = .unavailable, listings: Int = 0,
        lostCreateReplies: Int = 0, lostReplyError: CoordinationError.Code = .connectionLoss, reads: Int = 0
    ) {
        self.base = base
        self.deleteError = deleteError
        self.lostReplyError = lostReplyError
        self.budget = Mutex(Budget(deletes: deletes, listings: listings, lostCreateReplies: lostCreateReplies, reads: reads))
    }

    /// How many calls failed so far.
    var failures: Int { budget.withLock { $0.failed } }

    /// Takes one failure from the budget chosen by `path`, if any is left.
    private func spend(_ path: WritableKeyPath<Budget, Int>) -> Bool {
        budget.withLock { budget in
            guard budget[keyPath: path] > 0 else { return false }
            budget[keyPath: path] -= 1
            budget.failed += 1
            return true
        }
    }

    func delete(_ key: Key, ifVersion: Int64?, recursive: Bool) async throws {
        if spend(\.deletes) { throw CoordinationError(deleteError, "delete failed (simulated)", key: key) }
        try await base.delete(key, ifVersion: ifVersion, recursive: recursive)
    }

    func get(_ key: Key) async throws -> Record? {
        if spend(\.reads) { throw CoordinationError(.connectionLoss, "lost contact (simulated)", key: key) }
        return try await base.get(key)
    }

    func children(of key: Key) async throws -> [String] {
        if spend(\.listings) { throw CoordinationError(.connectionLoss, "lost contact (simulated)", key: key) }
        return try await base.children(of: key)
    }

    func create(_ key: Key, value: [UInt8], mode: CreateMode) async throws -> Record {
        let record = try await base.create(key, value: value, mode: mode)
        if spend(\.lostCreateReplies) {
            throw CoordinationError(lostReplyError, "the reply was lost (simulated); the outcome is unknown", key: key)
        }
        return record
    }

    /// A transaction that creates (a member's join makes one) counts as a create.
    func transaction(_ operations: [Coordination.Operation]) async throws -> [OperationResult] {
        let results = try await base.transaction(operations)
        let creates = operations.contains { if case .create = $0 { true } else { false } }
        if creates, spend(\.lostCreateReplies) {
            throw CoordinationError(lostReplyError, "the reply was lost (simulated); the outcome is unknown", key: operations.first?.key)
        }
        return results
    }
}
