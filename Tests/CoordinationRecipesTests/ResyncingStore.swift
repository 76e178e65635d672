import Coordination
import CoordinationTestSupport

/// Wraps a store whose watches can be cut off and set up again, as a backend's watch is after a
/// reconnect or an etcd compaction: what changes while detached is never delivered as events,
/// and each attachment starts with a fresh snapshot (contract clause 8).
final class ResyncingStore: ForwardingStore {
    let base: any CoordinationStore
    /// Bumped by every detach and reattach: attached while even.
    private let epoch = Broadcast(0)
    /// How many snapshots the watchers were given: one per attachment.
    let snapshots = Broadcast(0)

    init(_ base: any CoordinationStore) { self.base = base }

    /// Stops delivering: no event of a change made from now on reaches the watchers.
    func detach() { epoch.update { if $0.isMultiple(of: 2) { $0 += 1 } } }

    /// Watches again, from a fresh snapshot.
    func reattach() { epoch.update { if !$0.isMultiple(of: 2) { $0 += 1 } } }

    func watch(_ key: Key, scope: WatchScope) -> AsyncThrowingStream<WatchEvent, any Error> {
        let base = base
        let epoch = epoch
        let snapshots = snapshots
        return AsyncThrowingStream { continuation in
            let task = Task {
                do {
                    for await attached in epoch.subscribe() where attached.isMultiple(of: 2) {
                        try await withThrowingTaskGroup(of: Void.self) { group in
                            group.addTask {
                                for try await event in base.watch(key, scope: scope) {
                                    guard epoch.current == attached else { return }
                                    continuation.yield(event)
                                    if case .snapshot = event { snapshots.update { $0 += 1 } }
                                }
                            }
                            group.addTask { for await now in epoch.subscribe() where now != attached { return } }
                            try await group.next()
                            group.cancelAll()
                        }
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
