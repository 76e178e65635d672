import Coordination
import CoordinationTestSupport

/// Wraps a store and counts the listeners of its session events: how many streams were asked
/// for, and how many are open (asked for, not yet ended).
final class SessionListenersStore: ForwardingStore {
    let base: any CoordinationStore
    let opened = Broadcast(0)
    let open = Broadcast(0)

    init(_ base: any CoordinationStore) { self.base = base }

    func sessionEvents() -> AsyncStream<SessionEvent> {
        let upstream = base.sessionEvents()
        let open = open
        opened.update { $0 += 1 }
        open.update { $0 += 1 }
        return AsyncStream { continuation in
            let task = Task {
                // The upstream stream ends with this task, however this stream ends.
                defer { open.update { $0 -= 1 } }
                for await event in upstream { continuation.yield(event) }
                continuation.finish()
            }
            continuation.onTermination = { _ in task.cancel() }
        }
    }
}
