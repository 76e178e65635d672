import Synchronization

/// Shares one underlying watch per key and scope among every subscriber of a store handle.
///
/// A thousand watchers of one key would otherwise cost a thousand server-side watches, reads
/// and re-arms on ZooKeeper, or a thousand streaming connections on etcd, for the same events.
/// The hub keeps the view the shared watch has built; a subscriber that joins late gets that
/// view as its snapshot, then every later event, in order. So each subscriber sees exactly what
/// the contract promises of a watch of its own: a snapshot, then events, then a fresh snapshot
/// whenever the underlying watch lost continuity. The shared watch ends with its last subscriber;
/// when it fails, every subscriber gets the error and the next subscriber starts a new one.
public final class WatchHub: Sendable {
    public typealias Stream = AsyncThrowingStream<WatchEvent, any Error>

    private struct Topic: Hashable {
        let key: Key
        let scope: WatchScope
    }

    private struct Shared {
        let generation: Int
        var subscribers: [Int: Stream.Continuation] = [:]
        /// `nil` until the underlying watch's first snapshot.
        var view: [Key: Record]?
        var pump: Task<Void, Never>?
    }

    private struct State {
        var topics: [Topic: Shared] = [:]
        var nextID = 0
    }

    private let state = Mutex(State())
    /// Called as each pump has ended, for tests of what a late end may touch.
    private let pumpEnded: @Sendable () -> Void

    public init() { pumpEnded = {} }

    /// A hub that calls `pumpEnded` as each underlying watch's pump has ended (a test seam).
    init(pumpEnded: @escaping @Sendable () -> Void) { self.pumpEnded = pumpEnded }

    /// A watch of `key` in `scope`, shared with every other subscriber of the same; `source`
    /// opens the underlying, unshared watch when there is none.
    public func watch(_ key: Key, scope: WatchScope, source: @escaping @Sendable () -> Stream) -> Stream {
        let topic = Topic(key: key, scope: scope)
        let (stream, continuation) = Stream.makeStream()
        let id: Int = state.withLock { state in
            let id = state.nextID
            state.nextID += 1
            var shared = state.topics[topic] ?? Shared(generation: id)
            // Under the lock, so that the snapshot and the pump's next event cannot cross. Safe
            // here: nothing waits on this fresh stream yet, so the yield only buffers.
            if let view = shared.view { continuation.yield(.snapshot(view.values.sorted { $0.key < $1.key })) }
            shared.subscribers[id] = continuation
            if shared.pump == nil {
                let generation = shared.generation
                shared.pump = Task { await self.pump(topic, generation: generation, source()) }
            }
            state.topics[topic] = shared
            return id
        }
        continuation.onTermination = { _ in self.unsubscribe(id, from: topic) }
        return stream
    }

    /// Forwards the underlying watch's events to every subscriber, keeping the view up to date.
    private func pump(_ topic: Topic, generation: Int, _ source: Stream) async {
        defer { pumpEnded() }
        do {
            for try await event in source {
                let subscribers: [Stream.Continuation]? = state.withLock { state in
                    guard state.topics[topic]?.generation == generation,
                        var shared = state.topics.removeValue(forKey: topic)
                    else { return nil }
                    // Moved out of the state (and out of `shared`) so that nothing else holds
                    // the view and `apply` changes it in place: a copy-on-write copy here cost
                    // the whole view on every event, quadratic in the size of a watched folder.
                    var view = shared.view ?? [:]
                    shared.view = nil
                    view.apply(event)
                    shared.view = view
                    state.topics[topic] = shared
                    return Array(shared.subscribers.values)
                }
                guard let subscribers else { return }
                // Outside the lock: a yield may wait for a task's status lock while a thread that
                // cancels that task holds it and runs `unsubscribe`, which needs this lock. This
                // pump is the topic's only producer, so its events still leave in order; whoever
                // joins meanwhile starts from a view that already holds this event.
                for subscriber in subscribers { subscriber.yield(event) }
            }
            end(topic, generation: generation, error: nil)
        } catch {
            end(topic, generation: generation, error: error)
        }
    }

    private func end(_ topic: Topic, generation: Int, error: (any Error)?) {
        let subscribers: [Stream.Continuation] = state.withLock { state in
            guard let shared = state.topics[topic], shared.generation == generation else { return [] }
            state.topics[topic] = nil
            return Array(shared.subscribers.values)
        }
        for subscriber in subscribers { subscriber.finish(throwing: error) }
    }

    private func unsubscribe(_ id: Int, from topic: Topic) {
        let pump: Task<Void, Never>? = state.withLock { state in
            guard var shared = state.topics[topic], shared.subscribers.removeValue(forKey: id) != nil else { return nil }
            if !shared.subscribers.isEmpty {
                state.topics[topic] = shared
                return nil
            }
            state.topics[topic] = nil
            return shared.pump
        }
        // The last subscriber left: cancelling the pump ends the underlying watch.
        pump?.cancel()
    }
}
