import Coordination
import CoordinationTestSupport
import Synchronization

/// Wraps a ``SuspendableStore`` cut off while suspended: its first create of an ephemeral key
/// (alone, or in a transaction, as a member's join makes it; not a folder's) is applied, then the handle loses contact (its last
/// contact `outage` ago) before the reply comes back, which is lost (`connectionLoss`: the
/// outcome is unknown to the caller, and nothing can be read to find out until contact is back).
final class CutOffAfterCreateStore: ForwardingStore {
    let suspendable: SuspendableStore
    private let outage: Duration
    private let used = Atomic<Bool>(false)

    var base: any CoordinationStore { suspendable }

    init(_ suspendable: SuspendableStore, outage: Duration) {
        self.suspendable = suspendable
        self.outage = outage
    }

    func create(_ key: Key, value: [UInt8], mode: CreateMode) async throws -> Record {
        let record = try await suspendable.create(key, value: value, mode: mode)
        if mode.isEphemeral { try cutOffOnce(key) }
        return record
    }

    func transaction(_ operations: [Coordination.Operation]) async throws -> [OperationResult] {
        let results = try await suspendable.transaction(operations)
        let creates = operations.contains { if case .create(_, _, let mode) = $0 { mode.isEphemeral } else { false } }
        if creates { try cutOffOnce(operations.first?.key) }
        return results
    }

    /// The first time: contact lost, the reply with it.
    private func cutOffOnce(_ key: Key?) throws {
        guard !used.exchange(true, ordering: .sequentiallyConsistent) else { return }
        suspendable.suspend(lastContact: .now - outage)
        throw CoordinationError(.connectionLoss, "contact lost before the reply came back (simulated)", key: key)
    }
}
