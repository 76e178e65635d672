import Coordination
import CoordinationTestSupport

/// Wraps a store and counts what its watch streams deliver: snapshots (a watch armed) and other
/// events (a watcher woken by a change); and how many of its watches are open (asked for, not yet
/// ended).
final class CountingStore: ForwardingStore {
    let base: any CoordinationStore
    let snapshots = Broadcast(0)
    let wakeups = Broadcast(0)
    let openWatches = Broadcast(0)

    init(_ base: any CoordinationStore) { self.base = base }

    func watch(_ key: Key, scope: WatchScope) -> AsyncThrowingStream<WatchEvent, any Error> {
        let upstream = base.watch(key, scope: scope)
        let openWatches = openWatches
        openWatches.update { $0 += 1 }
        return AsyncThrowingStream { continuation in
            let task = Task {
                // The upstream watch ends with this task, however this stream ends.
                defer { openWatches.update { $0 -= 1 } }
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
