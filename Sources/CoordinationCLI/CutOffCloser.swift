import Coordination
import Synchronization

/// Closes the store handles of workers told to stop while cut off from their store.
///
/// A stopping worker removes its member and leader entries, and retries through store errors for
/// as long as its session may live (up to about two TTLs out of contact), for the sake of a handle
/// that outlives it. A coord process about to exit has no such handle: what its session holds goes
/// when the session ends. So once the workers' grace has passed, a handle still out of contact is
/// closed, which ends those retries, and coord exits soon after instead of two TTLs later.
final class CutOffCloser: Sendable {
    private let stop = AsyncStream<Void>.makeStream()

    /// Says that the workers are stopping; ``run(_:grace:closed:)`` then starts counting.
    func stopping() {
        stop.continuation.yield()
        stop.continuation.finish()
    }

    /// The positions, in the list given to ``run(_:grace:closed:)``, of the stores closed here.
    private let closedStores = Mutex<Set<Int>>([])

    /// Whether a store was closed: a worker that failed since, on a closed handle, failed of that.
    var hasClosed: Bool { closedStores.withLock { !$0.isEmpty } }

    /// Whether the store at `index` of the list given to ``run(_:grace:closed:)`` was closed here.
    /// Asked after a call on it failed, rather than its session's state: a handle refuses calls
    /// from the start of its close, but its session says `closed` only at the end (on etcd, after
    /// the lease's revoke, up to 2 s later).
    func hasClosed(_ index: Int) -> Bool { closedStores.withLock { $0.contains(index) } }

    /// After ``stopping()``, waits `grace` and a second's margin, then closes each of `stores` as
    /// soon as it is out of contact, calling `closed` once, for the first it closed. Run it as a
    /// task of its own, cancelled once the workers have stopped.
    func run(_ stores: [any CoordinationStore], grace: Duration, closed: @escaping @Sendable () async -> Void) async {
        for await _ in stop.stream { break }
        // Cancelled (the workers stopped) before a stop was asked for, or during the grace.
        guard !Task.isCancelled, (try? await Task.sleep(for: grace + .seconds(1))) != nil else { return }
        await withTaskGroup(of: Void.self) { group in
            for (index, store) in stores.enumerated() {
                group.addTask {
                    while true {
                        let session = store.session
                        if session.state == .closed { return }
                        // A healthy session's last contact is at most a third of its TTL old (plus a
                        // round trip): older than half, contact is lost, though a backend whose
                        // requests hang across a partition may not say `suspended` until a time-out.
                        let overdue = session.lastContact.advanced(by: session.ttl / 2)
                        if session.state == .suspended || ContinuousClock.now >= overdue {
                            // Said before the close: a worker failing of it is then taken for what it is.
                            let first = self.closedStores.withLock { closed in
                                defer { closed.insert(index) }
                                return closed.isEmpty
                            }
                            await store.close()
                            if first { await closed() }
                            return
                        }
                        // Cancelled: the workers stopped without it.
                        guard (try? await Task.sleep(until: overdue, clock: .continuous)) != nil else { return }
                    }
                }
            }
        }
    }
}
