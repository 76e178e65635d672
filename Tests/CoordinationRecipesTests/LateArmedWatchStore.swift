import Coordination
import CoordinationTestSupport
import Synchronization

/// Wraps a store so that its first watch of `key` is opened only after `before` returns: the
/// watched key can then change between a listing and the watch, as a real server allows.
final class LateArmedWatchStore: ForwardingStore {
    let base: any CoordinationStore
    private let key: Key
    private let before: @Sendable () async throws -> Void
    private let delayed = Atomic<Bool>(false)

    init(_ base: any CoordinationStore, key: Key, before: @escaping @Sendable () async throws -> Void) {
        self.base = base
        self.key = key
        self.before = before
    }

    func watch(_ key: Key, scope: WatchScope) -> AsyncThrowingStream<WatchEvent, any Error> {
        guard key == self.key, !delayed.exchange(true, ordering: .sequentiallyConsistent) else {
            return base.watch(key, scope: scope)
        }
        return baseWatch(key, scope: scope, after: before)
    }
}
