import Coordination
@testable import CoordinationEtcd
import Testing

extension EtcdStoreTests {
    /// Fifty sequential creates of one handle under one parent at once (a herd of lock waiters
    /// queueing) take turns instead of racing for the counter: about two requests each, not a
    /// round of retries per winner, and every one gets its own number.
    @Test func concurrentSequentialCreatesOfOneHandleTakeTurns() async throws {
        // What is counted is requests, not the session's life: the 60 s lease ``withStore`` gives
        // keeps a run slowed by a loaded machine from expiring the ephemeral keys it counts.
        try await withStore { store, _ in
            let parent = try Key("/herd")
            _ = try await store.create(parent, value: [], mode: .persistent)
            let before = store.requestsSent.load(ordering: .relaxed)
            let created = try await withThrowingTaskGroup(of: Key.self) { group in
                for _ in 0..<50 {
                    group.addTask { try await store.create(try parent.child("w-"), value: [], mode: .ephemeralSequential).key }
                }
                return try await group.reduce(into: [Key]()) { $0.append($1) }
            }
            let requests = store.requestsSent.load(ordering: .relaxed) - before
            #expect(Set(created).count == 50)
            #expect(Set(try await store.children(of: parent)) == Set(created.map(\.name)))
            #expect(requests <= 2 * 50, "\(requests) requests for 50 creates")
        }
    }
}
