import Coordination
import CoordinationMemory
import CoordinationTestSupport
import Synchronization
import Testing

@testable import CoordinationScheduler

/// A worker's folder watches that end for want of contact (a watch opened while its handle was
/// cut off ends at once with `connectionLoss`) are opened again once the session is usable, with
/// fresh snapshots, instead of stopping the worker. Under a loaded CI run a memory worker whose
/// feed restarted while it was cut off once failed for good this way.
@Suite struct ViewFeedTests {
    @Test func watchesThatEndForWantOfContactAreOpenedAgain() async throws {
        let server = MemoryServer()
        let base = try await server.connect(namespace: try Key("/feed"), sessionTTL: .seconds(60))
        let layout = SchedulerLayout()
        try await layout.ensureFolders(in: base)
        let folders = SchedulerView.Folder.allCases.count
        let store = LostWatchesStore(base, failing: folders)
        let (snapshots, sink) = AsyncStream<SchedulerView.Folder>.makeStream()
        let feed = ViewFeed { folder, event in
            if case .snapshot = event { sink.yield(folder) }
        }
        let running = Task { try await feed.run(store: store, layout: layout) }
        defer { running.cancel() }
        try await withDeadline("a snapshot of every folder") {
            var seen: Set<SchedulerView.Folder> = []
            for await folder in snapshots {
                seen.insert(folder)
                if seen.count == folders { return }
            }
        }
        #expect(store.failed == folders, "every watch of the first round ended with connectionLoss")
        await base.close()
    }
}

/// Forwards to a store, except that its first `failing` watches end at once with
/// `connectionLoss`, as a watch opened while contact is lost does.
final class LostWatchesStore: ForwardingStore {
    let base: any CoordinationStore
    private let remaining: Mutex<Int>
    private let count: Int

    init(_ base: any CoordinationStore, failing count: Int) {
        self.base = base
        self.count = count
        remaining = Mutex(count)
    }

    /// How many watches ended with `connectionLoss`.
    var failed: Int { count - remaining.withLock { $0 } }

    func watch(_ key: Key, scope: WatchScope) -> AsyncThrowingStream<WatchEvent, any Error> {
        let fail = remaining.withLock { left in
            guard left > 0 else { return false }
            left -= 1
            return true
        }
        guard fail else { return base.watch(key, scope: scope) }
        let (stream, continuation) = AsyncThrowingStream<WatchEvent, any Error>.makeStream()
        continuation.finish(throwing: CoordinationError(.connectionLoss, "contact lost (simulated)"))
        return stream
    }
}
