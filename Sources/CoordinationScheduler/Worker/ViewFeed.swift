import Coordination
import Synchronization

/// One set of watches on the scheduler's folders per worker, shared by its claiming loop and, while
/// it leads, its leader duties.
///
/// The leader used to open a second set of the same folder watches on the same handle. On
/// ZooKeeper every watch event costs several round trips of re-reading, so the leader's handle
/// carried twice the watch load, its view lagged, and it lost nearly every claim race: the idle
/// worker of the bench. Sharing halves that handle's watch traffic.
///
/// The members and the wide-bucket list are always watched. The jobs are watched whole while
/// the worker leads (its duties need every job) or when ``setJobs(_:)`` asks for all of them;
/// otherwise bucket by bucket, the buckets ``setJobs(_:)`` names (``BucketShare``): a bucket added
/// starts with a snapshot of its own (``SchedulerView/Folder/bucket(_:)``), a bucket removed ends
/// with a delete of its key once its watch has stopped, so that nothing of it arrives after.
final class ViewFeed: Sendable {
    typealias Sink = @Sendable (SchedulerView.Folder, WatchEvent) -> Void

    /// Which jobs a worker watches.
    enum Jobs: Sendable, Equatable {
        case all
        case buckets(Set<String>)
    }

    private struct State {
        var extra: Sink?
        /// Rounds (a follower each) are numbered; the extra sink gets events of rounds from this
        /// one on, none of a round begun before it attached (which may watch buckets only).
        var round = 0
        var extraFrom = Int.max
        var follower: Task<Void, any Error>?
        var resyncRequested = false
        /// What the claiming loop asked for; nothing until it knows its share.
        var jobs = Jobs.buckets([])
        /// Where a running follower that watches buckets takes changes of its bucket set.
        var bucketChanges: AsyncStream<Set<String>>.Continuation?
    }

    private let main: Sink
    private let roundStarted: @Sendable (_ followsAllJobs: Bool) -> Void
    private let state = Mutex(State())

    /// - Parameters:
    ///   - main: receives every event, always.
    ///   - roundStarted: called as the watches start over, before the new round's first event
    ///     and after the last of the round before; says whether the new round follows every job
    ///     (its ``SchedulerView/Folder/runs`` snapshot holds every run) or buckets (that snapshot
    ///     is only the empty one that clears the view, each bucket's own snapshot following).
    init(main: @escaping Sink, roundStarted: @escaping @Sendable (_ followsAllJobs: Bool) -> Void = { _ in }) {
        self.main = main
        self.roundStarted = roundStarted
    }

    /// Follows the folders until cancelled or the store fails, starting over (fresh snapshots for
    /// everyone) whenever a sink attaches or detaches, or the jobs switch between whole and buckets.
    func run(store: any CoordinationStore, layout: SchedulerLayout) async throws {
        while true {
            let follower = state.withLock { state in
                state.resyncRequested = false
                state.round += 1
                let round = state.round
                let jobs = state.extra == nil ? state.jobs : .all
                roundStarted(jobs == .all)
                var changes: AsyncStream<Set<String>>?
                if case .buckets(let buckets) = jobs {
                    let (stream, continuation) = AsyncStream<Set<String>>.makeStream(bufferingPolicy: .bufferingNewest(1))
                    continuation.yield(buckets)
                    state.bucketChanges = continuation
                    changes = stream
                } else {
                    state.bucketChanges = nil
                }
                let follower = Task { [main, self] in
                    let deliver: Sink = { folder, event in
                        main(folder, event)
                        self.state.withLock { round >= $0.extraFrom ? $0.extra : nil }?(folder, event)
                    }
                    if let changes {
                        try await SchedulerView.follow(store: store, layout: layout, bucketChanges: changes, deliver: deliver)
                    } else {
                        try await SchedulerView.follow(store: store, layout: layout, deliver: deliver)
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
                state.bucketChanges = nil
                return state.resyncRequested
            }
            if again && !Task.isCancelled { continue }
            try result.get()
            try Task.checkCancellation()
            return
        }
    }

    /// Sends every event to `sink` too, starting with fresh snapshots of everything, until ``detach()``.
    func attach(_ sink: @escaping Sink) {
        state.withLock { state in
            state.extra = sink
            state.extraFrom = state.round + 1
            restart(&state)
        }
    }

    /// Back to the claiming loop's own choice of jobs, with fresh snapshots.
    func detach() {
        state.withLock { state in
            state.extra = nil
            if state.jobs != .all { restart(&state) }
        }
    }

    /// Which jobs the claiming loop needs (while the worker leads it gets every job regardless).
    func setJobs(_ jobs: Jobs) {
        state.withLock { state in
            guard state.jobs != jobs else { return }
            let before = state.jobs
            state.jobs = jobs
            guard state.extra == nil else { return }
            switch (before, jobs) {
            case (.buckets, .buckets(let buckets)):
                if let changes = state.bucketChanges {
                    changes.yield(buckets)
                } else {
                    restart(&state)
                }
            default:
                restart(&state)
            }
        }
    }

    private func restart(_ state: inout State) {
        state.resyncRequested = true
        state.follower?.cancel()
    }
}

extension SchedulerView {
    /// Follows the members, the wide-bucket list and the buckets named by `bucketChanges` (each
    /// set replacing the one before), delivering each event to `deliver` until cancelled or the
    /// store fails. Starts with empty snapshots of the jobs and runs, which each bucket's own
    /// snapshot then fills in.
    static func follow(
        store: any CoordinationStore, layout: SchedulerLayout, bucketChanges: AsyncStream<Set<String>>,
        deliver: @escaping @Sendable (Folder, WatchEvent) -> Void
    ) async throws {
        deliver(.jobs, .snapshot([]))
        deliver(.runs, .snapshot([]))
        try await withThrowingTaskGroup(of: Void.self) { group in
            group.addTask { try await followMembersAndWideBuckets(store: store, layout: layout, deliver: deliver) }
            group.addTask {
                try await BucketWatches(store: store, layout: layout, deliver: deliver).follow(bucketChanges)
            }
            try await group.waitForAll()
        }
    }

    static func followMembersAndWideBuckets(
        store: any CoordinationStore, layout: SchedulerLayout, deliver: @escaping @Sendable (Folder, WatchEvent) -> Void
    ) async throws {
        try await withThrowingTaskGroup(of: Void.self) { group in
            group.addTask {
                for try await event in store.watch(layout.workers, scope: .children) { deliver(.workers, event) }
            }
            group.addTask {
                for try await event in store.watch(layout.wideBuckets, scope: .key) { deliver(.wide, event) }
            }
            try await group.waitForAll()
        }
    }
}

/// The watches of a changing set of buckets, each its own task, so that one can stop while the
/// others go on.
private struct BucketWatches: Sendable {
    let store: any CoordinationStore
    let layout: SchedulerLayout
    let deliver: @Sendable (SchedulerView.Folder, WatchEvent) -> Void

    private enum Change: Sendable {
        case buckets(Set<String>)
        case failed(any Error)
    }

    /// Runs until cancelled (every watch stopped before it returns) or a watch fails (thrown).
    func follow(_ bucketChanges: AsyncStream<Set<String>>) async throws {
        let (changes, change) = AsyncStream<Change>.makeStream()
        let forwarding = Task {
            for await buckets in bucketChanges { change.yield(.buckets(buckets)) }
        }
        var watches: [String: Task<Void, Never>] = [:]
        defer { forwarding.cancel() }
        var failure: (any Error)?
        for await next in changes {
            switch next {
            case .failed(let error):
                failure = error
            case .buckets(let buckets):
                for (bucket, watch) in watches where !buckets.contains(bucket) {
                    watch.cancel()
                    await watch.value
                    watches[bucket] = nil
                    if let key = try? layout.jobs.child(bucket) { deliver(.bucket(bucket), .delete(key)) }
                }
                for bucket in buckets where watches[bucket] == nil {
                    watches[bucket] = Task { [store, layout, deliver] in
                        do {
                            for try await event in store.watch(try layout.jobs.child(bucket), scope: .grandchildren) {
                                switch event {
                                case .snapshot: deliver(.bucket(bucket), event)
                                case .put, .delete: SchedulerView.split(event, layout: layout, into: deliver)
                                }
                            }
                            // A watch ends by itself only when its store closes: a bucket left
                            // unwatched would be a bucket whose runs nobody here sees.
                            if !Task.isCancelled { change.yield(.failed(CoordinationError.closed())) }
                        } catch is CancellationError {
                        } catch {
                            if !Task.isCancelled { change.yield(.failed(error)) }
                        }
                    }
                }
            }
            if failure != nil { break }
        }
        for watch in watches.values { watch.cancel() }
        for watch in watches.values { await watch.value }
        if let failure { throw failure }
        try Task.checkCancellation()
    }
}
