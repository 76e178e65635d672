import Coordination
import CoordinationTestSupport
import Synchronization

/// Passes a worker's store through, and tells on ``delivered`` each version of `key` whose put
/// its watch has handed over and whose handling is done: the worker's watch loop asked for the
/// next event after it. A worker hands each event to its loop's signal queue before asking for
/// the next, so a signal it queues from then on comes after that change.
///
/// A version can reach the worker in a fresh snapshot as well as in a put: its watches start over
/// as it becomes the leader (or its share of the jobs changes), and a store's watch resyncs after
/// lost continuity (an etcd compaction, a reconnect). What a snapshot carries of `key` counts too.
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
            switch event {
            case .put(let record)? where record.key == key: cursor.handedOver = record.version
            case .snapshot(let records)?: cursor.handedOver = records.first { $0.key == key }?.version
            default: break
            }
            return event
        }
    }

    /// Returns once the worker has handled `version` of `key`, or a later one. After `limit`
    /// throws `timeout`, naming the version waited for and those the worker was seen to handle:
    /// a test that holds something back until then is stuck in its own harness, not in the worker.
    func waitUntilHandled(_ version: Int64, limit: Duration = .seconds(10)) async throws {
        let handled = Shared<[Int64]>([])
        do {
            try await withDeadline("the worker to handle version \(version) of \(key)", limit: limit) { [delivered] in
                for await seen in delivered {
                    handled.withLock { $0.append(seen) }
                    if seen >= version { return }
                }
            }
        } catch var error as CoordinationError where error.code == .timeout {
            let seen = handled.value
            error.message += "; its watches told of handling \(seen.isEmpty ? "no version" : "versions \(seen)") (test harness, not the scheduler)"
            throw error
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
