import Coordination
import CoordinationTestSupport

/// Passes a worker's store through, and tells on ``delivered`` each version of `key` whose put
/// its watch has handed over and whose handling is done: the worker's watch loop asked for the
/// next event after it. A worker hands each event to its loop's signal queue before asking for
/// the next, so a signal it queues from then on comes after that change.
final class DeliveredVersionStore: ForwardingStore {
    let base: any CoordinationStore
    let key: Key
    let delivered: AsyncStream<Int64>
    private let deliveredSink: AsyncStream<Int64>.Continuation

    init(_ base: any CoordinationStore, key: Key) {
        self.base = base
        self.key = key
        (delivered, deliveredSink) = AsyncStream.makeStream(of: Int64.self)
    }

    func watch(_ watched: Key, scope: WatchScope) -> AsyncThrowingStream<WatchEvent, any Error> {
        guard key.isUnder(watched) else { return base.watch(watched, scope: scope) }
        let cursor = Cursor(base.watch(watched, scope: scope).makeAsyncIterator())
        // Called once per request of the watch's consumer: a request is the sign it is done
        // with the event handed over before.
        return AsyncThrowingStream { [key, deliveredSink] in
            if let version = cursor.handedOver {
                cursor.handedOver = nil
                deliveredSink.yield(version)
            }
            let event = try await cursor.events.next()
            if case .put(let record)? = event, record.key == key { cursor.handedOver = record.version }
            return event
        }
    }

    /// The base watch's position. Unchecked: only the stream's one consumer touches it, one
    /// request at a time.
    private final class Cursor: @unchecked Sendable {
        var events: AsyncThrowingStream<WatchEvent, any Error>.AsyncIterator
        var handedOver: Int64?
        init(_ events: AsyncThrowingStream<WatchEvent, any Error>.AsyncIterator) { self.events = events }
    }
}
