import Coordination
import CoordinationScheduler
import CoordinationTestSupport
import Synchronization

/// Passes a worker's store through, and runs the change a test arms just before the first watch
/// of the whole jobs folder opens from then on: after the watches it replaces have ended (the
/// worker's watches start over, as when it becomes the leader), so that the change reaches the
/// worker only in the new watch's snapshot, never as an event of its own.
final class ChangeBeforeWatchingAllJobs: ForwardingStore {
    let base: any CoordinationStore
    let layout: SchedulerLayout
    /// Fires once the armed change is made.
    let changed = Signal()
    private let armed = Mutex<(@Sendable () async throws -> Void)?>(nil)

    init(_ base: any CoordinationStore, layout: SchedulerLayout) {
        self.base = base
        self.layout = layout
    }

    /// Makes `change` just before the next watch of the jobs folder opens; its error ends that watch.
    func arm(_ change: @escaping @Sendable () async throws -> Void) {
        armed.withLock { $0 = change }
    }

    func watch(_ key: Key, scope: WatchScope) -> AsyncThrowingStream<WatchEvent, any Error> {
        guard key == layout.jobs, let change = armed.withLock({ armed in defer { armed = nil }; return armed }) else {
            return base.watch(key, scope: scope)
        }
        return baseWatch(key, scope: scope) { [changed] in
            try await change()
            changed.fire()
        }
    }
}
