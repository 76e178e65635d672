import Coordination
import CoordinationTestSupport

/// Passes its session events on up to and including the first `expired`, and withholds every
/// event after it (the next session's among them) for as long as the handle lives: a handle that
/// has found its session ended and cannot start the next one yet (an etcd handle whose new lease
/// grant keeps failing), as its holders see it.
final class NextSessionWithheldStore: ForwardingStore {
    let base: any CoordinationStore

    init(_ base: any CoordinationStore) { self.base = base }

    func sessionEvents() -> AsyncStream<SessionEvent> {
        let base = base
        let (stream, continuation) = AsyncStream.makeStream(of: SessionEvent.self)
        let task = Task {
            var expired = false
            for await event in base.sessionEvents() where !expired {
                continuation.yield(event)
                expired = event.state == .expired
            }
            // Ends only with the base's stream: an end would tell the holder the handle closed.
            continuation.finish()
        }
        continuation.onTermination = { _ in task.cancel() }
        return stream
    }
}
