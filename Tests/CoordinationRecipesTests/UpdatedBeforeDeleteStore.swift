import Coordination
import CoordinationTestSupport
import Synchronization

/// Wraps a store so that just before each conditional delete (one `ifVersion`), the key is
/// written again, as another handle updating a member's metadata would: every such delete then
/// finds the key at another version and fails with `versionConflict`. ``conditionalDeletes``
/// counts them.
final class UpdatedBeforeDeleteStore: ForwardingStore {
    let base: any CoordinationStore
    private let deletes = Atomic<Int>(0)

    init(_ base: any CoordinationStore) { self.base = base }

    var conditionalDeletes: Int { deletes.load(ordering: .sequentiallyConsistent) }

    func delete(_ key: Key, ifVersion: Int64?, recursive: Bool) async throws {
        if ifVersion != nil, let current = try await base.get(key) {
            deletes.add(1, ordering: .sequentiallyConsistent)
            _ = try await base.set(key, value: current.value, ifVersion: nil)
        }
        try await base.delete(key, ifVersion: ifVersion, recursive: recursive)
    }
}
