import Coordination

/// coord's own sequential loop once more, on keys of its own, run under the preference of
/// ``ReplyThreadExecutor`` (`ZooKeeperStore.completionExecutor`, `EtcdStore.completionExecutor`):
/// what a latency-bound caller gets by running its loop where the store's replies arrive.
/// Interleaved with the other clients like any baseline, so the report shows both ways of running
/// coord against the C client's synchronous loop.
struct BenchCompletionExecutorLoop: InterleavedBaseline {
    let store: any CoordinationStore
    static let folder: Key = try! Key("/coord-on-completion-executor")

    static func open(store: any CoordinationStore, warmup: Int) async throws -> BenchCompletionExecutorLoop {
        try await BenchRunner.warmUp(store, in: folder, count: warmup)
        return BenchCompletionExecutorLoop(store: store)
    }

    func timed(_ operation: String, indices: Range<Int>) async throws -> [Double] {
        let keys = try indices.map { try Self.folder.child("k-\($0)") }
        let store = store
        return try await withTaskExecutorPreference(ReplyThreadExecutor.shared) {
            try await BenchRunner.timed(keys) { try await BenchRunner.perform(operation, on: store, key: $0) }
        }
    }
}
