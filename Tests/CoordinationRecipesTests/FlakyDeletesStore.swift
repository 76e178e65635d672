import Coordination
import CoordinationTestSupport
import Synchronization

/// Wraps a store and fails its first `failures` deletes with `unavailable`, as a server that is
/// briefly out of reach would (nothing is deleted).
final class FlakyDeletesStore: ForwardingStore {
    let base: any CoordinationStore
    private let remaining: Mutex<Int>
    private let failed = Mutex(0)

    init(_ base: any CoordinationStore, failures: Int) {
        self.base = base
        self.remaining = Mutex(failures)
    }

    /// How many deletes were refused so far.
    var failedDeletes: Int { failed.withLock { $0 } }

    func delete(_ key: Key, ifVersion: Int64?, recursive: Bool) async throws {
        let refuse = remaining.withLock { remaining in
            guard remaining > 0 else { return false }
            remaining -= 1
            return true
        }
        if refuse {
            failed.withLock { $0 += 1 }
            throw CoordinationError(.unavailable, "no server answered (simulated)", key: key)
        }
        try await base.delete(key, ifVersion: ifVersion, recursive: recursive)
    }
}
