import Coordination
import CoordinationRecipes
import CoordinationTestSupport
import Testing

/// Adds that all find the counter's key absent race to create it: one creates it, the others
/// find it made and add to it, and none is lost.
@Suite(.serverLoadLimit) struct CounterFirstAddRaceTests {
    @Test(arguments: RecipeBackend.all)
    func firstAddsThatCollideOnCreatingTheKeyAreNeverLost(backend: RecipeBackend) async throws {
        let handles = try Handles(backend)
        defer { Task { await handles.closeAll() } }
        let key = try Key("/counter")
        let writers = 3
        let gate = ReadTogether(parties: writers)
        var stores: [CollidingStore] = []
        for _ in 0..<writers { stores.append(CollidingStore(try await handles.open(), gate: gate)) }
        let results = try await withDeadline("the colliding first adds") { [stores] in
            try await withThrowingTaskGroup(of: Int64.self) { group in
                for store in stores { group.addTask { try await Counter(store: store, key: key).add(1) } }
                return try await group.reduce(into: []) { $0.append($1) }
            }
        }
        #expect(results.sorted() == [1, 2, 3], "each add saw its own result")
        #expect(try await Counter(store: try await handles.open(), key: key).value() == 3)
    }
}
