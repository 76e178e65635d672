import Coordination
import CoordinationRecipes
import CoordinationTestSupport
import Testing

/// A config watch whose store watch resyncs (a reconnect, an etcd compaction: a fresh snapshot
/// after a gap) converges to the latest value, never says a value older than one it said, and
/// repeats nothing.
@Suite(.serverLoadLimit) struct ConfigWatchResyncTests {
    struct Settings: Codable, Sendable, Equatable {
        var rate: Int
    }

    @Test(arguments: RecipeBackend.all)
    func aResyncAfterAGapSaysTheLatestValueOnly(backend: RecipeBackend) async throws {
        let handles = try Handles(backend)
        defer { Task { await handles.closeAll() } }
        let key = try Key("/config/app")
        let writer = ConfigWatch(store: try await handles.open(), key: key, as: Settings.self)
        try await writer.publish(Settings(rate: 1))
        let gappy = ResyncingStore(try await handles.open())
        let values = ConfigWatch(store: gappy, key: key, as: Settings.self).values()
        #expect(try await next(values, "the first value") == Settings(rate: 1))

        gappy.detach()
        try await writer.publish(Settings(rate: 2))
        try await writer.publish(Settings(rate: 3))
        gappy.reattach()
        #expect(try await next(values, "the latest value after a resync") == Settings(rate: 3), "the latest value, nothing of the gap")

        // A snapshot of the value already said is not said again.
        let resynced = gappy.snapshots.current
        gappy.detach()
        gappy.reattach()
        try await withDeadline("the watch to resync") { await gappy.snapshots.reach(resynced + 1) }
        try await writer.publish(Settings(rate: 4))
        #expect(try await next(values, "the value published after a resync that changed nothing") == Settings(rate: 4))

        gappy.detach()
        try await writer.store.delete(key)
        gappy.reattach()
        #expect(try await next(values, "the deletion in a gap, after the resync") == nil, "deleted in the gap: absent")

        // A bad value in the snapshot is skipped like a bad event.
        gappy.detach()
        _ = try await writer.store.create(key, value: Array("{\"rate\":\"fast\"}".utf8), mode: .persistent)
        gappy.reattach()
        try await writer.publish(Settings(rate: 5))
        #expect(try await next(values, "the value published after a resync that skipped a bad one") == Settings(rate: 5))
    }
}
