import Coordination
import CoordinationTestSupport

/// Wraps a store and counts what its watch streams deliver: snapshots (a watch armed) and other
/// events (a watcher woken by a change).
final class CountingStore: ForwardingStore {
    let base: any CoordinationStore
    let snapshots = Broadcast(0)
    let wakeups = Broadcast(0)

    init(_ base: any CoordinationStore) { self.base = base }

    func watch(_ key: Key, scope: WatchScope) -> AsyncThrowingStream<WatchEvent, any Error> {
        let upstream = base.watch(key, scope: scope)
        return AsyncThrowingStream { continuation in
            let task = Task {
                do {
                    for try await event in upstream {
                        if case .snapshot = event {
                            snapshots.update { $0 += 1 }
                        } else {
                            wakeups.update { $0 += 1 }
                        }
                        continuation.yield(event)
                    }
                    continuation.finish()
                } catch {
                    continuation.finish(throwing: error)
                }
            }
            continuation.onTermination = { _ in task.cancel() }
        }
    }
}
