import Coordination
import CoordinationTestSupport
import Synchronization

/// Wraps a store so that the first delete of `key` is applied at once but answered only after
/// `until` returns: a reply held up on its way back, while everyone else sees the delete.
final class LateDeleteReplyStore: ForwardingStore {
    let base: any CoordinationStore
    private let key: Key
    private let until: @Sendable () async throws -> Void
    private let delayed = Atomic<Bool>(false)

    init(_ base: any CoordinationStore, key: Key, until: @escaping @Sendable () async throws -> Void) {
        self.base = base
        self.key = key
        self.until = until
    }

    func delete(_ key: Key, ifVersion: Int64?, recursive: Bool) async throws {
        try await base.delete(key, ifVersion: ifVersion, recursive: recursive)
        if key == self.key, !delayed.exchange(true, ordering: .sequentiallyConsistent) { try await until() }
    }
}
