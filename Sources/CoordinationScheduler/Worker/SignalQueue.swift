import Synchronization

/// An unbounded queue of signals consumed in batches: everything that arrived since the last
/// batch is taken at once, so a consumer that re-plans after each batch plans once per burst of
/// watch events instead of once per event. One consumer.
final class SignalQueue<Element: Sendable>: Sendable {
    private let pending = Mutex<[Element]>([])
    private let wakeups: AsyncStream<Void>
    private let wakeup: AsyncStream<Void>.Continuation

    init() {
        (wakeups, wakeup) = AsyncStream<Void>.makeStream(bufferingPolicy: .bufferingNewest(1))
    }

    func push(_ element: Element) {
        pending.withLock { $0.append(element) }
        wakeup.yield()
    }

    /// Waits for the next batch; `nil` when the consuming task is cancelled.
    func next() async -> [Element]? {
        var iterator = wakeups.makeAsyncIterator()
        while await iterator.next() != nil {
            let batch = pending.withLock { elements in
                defer { elements = [] }
                return elements
            }
            if !batch.isEmpty { return batch }
        }
        return nil
    }
}
