import Coordination
import CoordinationTestSupport

/// Wraps a store and counts the events its watches' consumers have handled: an event counts once
/// the consumer asks for the one after it. A recipe that looked at a watch's snapshot and chose
/// to wait for more is seen doing so, with no sleep standing in for that moment.
final class WatchConsumptionStore: ForwardingStore {
    let base: any CoordinationStore
    let handled = Broadcast(0)

    init(_ base: any CoordinationStore) { self.base = base }

    func watch(_ key: Key, scope: WatchScope) -> AsyncThrowingStream<WatchEvent, any Error> {
        let upstream = UpstreamEvents(base.watch(key, scope: scope).makeAsyncIterator())
        let handled = handled
        return AsyncThrowingStream {
            // Asked for an event: the one handed out before, if any, has been handled.
            if upstream.handedOut { handled.update { $0 += 1 } }
            let event = try await upstream.next()
            upstream.handedOut = event != nil
            return event
        }
    }
}

/// The upstream iterator of one watch. Its stream's consumer asks for one element at a time, so
/// the iterator is never used by two tasks at once.
private final class UpstreamEvents: @unchecked Sendable {
    private var iterator: AsyncThrowingStream<WatchEvent, any Error>.AsyncIterator
    var handedOut = false

    init(_ iterator: AsyncThrowingStream<WatchEvent, any Error>.AsyncIterator) { self.iterator = iterator }

    func next() async throws -> WatchEvent? { try await iterator.next() }
}
