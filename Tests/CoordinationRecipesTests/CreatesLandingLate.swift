import Coordination
import CoordinationTestSupport
import Synchronization

/// Wraps a store whose every other create (the first, the third, …) is not applied but
/// answered `connectionLoss` (the outcome unknown to the caller), and applied only when the
/// test calls ``landAll()``: each join that retries once after a lost reply leaves a create that
/// the server applies after later ones, as ``CreateLandingLate`` does for one join.
final class CreatesLandingLate: ForwardingStore {
    let base: any CoordinationStore
    private let state = Mutex<(creates: Int, held: [(key: Key, value: [UInt8], mode: CreateMode)])>((0, []))

    init(_ base: any CoordinationStore) { self.base = base }

    func create(_ key: Key, value: [UInt8], mode: CreateMode) async throws -> Record {
        let holds = state.withLock { state in
            defer { state.creates += 1 }
            if state.creates.isMultiple(of: 2) { state.held.append((key, value, mode)) }
            return state.creates.isMultiple(of: 2)
        }
        guard holds else { return try await base.create(key, value: value, mode: mode) }
        throw CoordinationError(.connectionLoss, "reply lost (simulated); the create is applied later")
    }

    /// Applies the creates held back, in order.
    func landAll() async throws -> [Record] {
        var landed: [Record] = []
        for create in state.withLock({ $0.held }) {
            landed.append(try await base.create(create.key, value: create.value, mode: create.mode))
        }
        return landed
    }
}
