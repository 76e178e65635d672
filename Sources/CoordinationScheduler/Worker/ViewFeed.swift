import Coordination
import Synchronization

/// One set of watches on the scheduler's folders per worker, shared by its claiming loop and, while
/// it leads, its leader duties.
///
/// The leader used to open a second set of the same folder watches on the same handle. On
/// ZooKeeper every watch event costs several round trips of re-reading, so the leader's handle
/// carried twice the watch load, its view lagged, and it lost nearly every claim race: the idle
/// worker of the bench. Sharing halves that handle's watch traffic.
final class ViewFeed: Sendable {
    typealias Sink = @Sendable (SchedulerView.Folder, WatchEvent) -> Void

    private struct State {
        var extra: Sink?
        var follower: Task<Void, any Error>?
        var resyncRequested = false
    }

    private let main: Sink
    private let state = Mutex(State())

    /// - Parameter main: receives every event, always.
    init(main: @escaping Sink) {
        self.main = main
    }

    /// Follows the folders until cancelled or the store fails, starting over (fresh snapshots for
    /// everyone) whenever a sink attaches.
    func run(store: any CoordinationStore, layout: SchedulerLayout) async throws {
        while true {
            let follower = state.withLock { state in
                state.resyncRequested = false
                let follower = Task { [main, self] in
                    try await SchedulerView.follow(store: store, layout: layout) { folder, event in
                        main(folder, event)
                        self.state.withLock { $0.extra }?(folder, event)
                    }
                }
                state.follower = follower
                return follower
            }
            // Awaited to the end even when restarting: no event of this round may be delivered
            // after the next round's snapshots.
            let result = await withTaskCancellationHandler {
                await follower.result
            } onCancel: {
                follower.cancel()
            }
            let again = state.withLock { state in
                state.follower = nil
                return state.resyncRequested
            }
            if again && !Task.isCancelled { continue }
            try result.get()
            try Task.checkCancellation()
            return
        }
    }

    /// Sends every event to `sink` too, starting with fresh snapshots, until ``detach()``.
    func attach(_ sink: @escaping Sink) {
        state.withLock { state in
            state.extra = sink
            state.resyncRequested = true
            state.follower?.cancel()
        }
    }

    func detach() {
        state.withLock { $0.extra = nil }
    }
}
