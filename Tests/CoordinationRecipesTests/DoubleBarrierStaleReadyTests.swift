import Coordination
import CoordinationRecipes
import CoordinationTestSupport
import Testing

/// A `ready` left raised by an earlier round (every leaver stopped before lowering it, a process
/// killed mid-leave, an older version's empty one) lets nobody through before the next round's
/// group is complete. It used to: an enter passed on any `ready`, alone.
extension DoubleBarrierTests {
    /// What an earlier round left in `ready`: an older version's empty value, or markers of
    /// participants long gone.
    enum StaleReady: String, CaseIterable, Sendable {
        case empty, earlierRoundsMarkers

        var value: [UInt8] {
            switch self {
            case .empty: []
            case .earlierRoundsMarkers: Array("5f0e2c41a9d3b7e8c0ffee\n9a8b7c6d5e4f30211234".utf8)
            }
        }
    }

    @Test(arguments: RecipeBackend.all, StaleReady.allCases)
    func aStaleReadyLetsNobodyThroughEarly(backend: RecipeBackend, stale: StaleReady) async throws {
        let handles = try Handles(backend)
        defer { Task { await handles.closeAll() } }
        let (path, members, ready) = try DoubleBarrier.testKeys()
        let observer = try await handles.open()
        _ = try await observer.create(ready, value: stale.value, mode: .persistent)

        let firstStore = WatchConsumptionStore(try await handles.open())
        let first = try DoubleBarrier(store: firstStore, path: path, count: 2)
        let returned = Broadcast(0)
        let entering = Task {
            defer { returned.update { $0 += 1 } }
            try await first.enter(id: "first")
        }
        // Its watch's first event shows its member and the stale `ready`: once it has handled that
        // and asks for more, it has chosen to wait. Passing on the stale one, it returns instead.
        let waits = try await withDeadline("the first participant to look") {
            await withTaskGroup(of: Bool.self) { group in
                group.addTask { await firstStore.handled.reach(1); return true }
                group.addTask { await returned.reach(1); return false }
                defer { group.cancelAll() }
                return await group.next() ?? false
            }
        }
        guard waits else {
            Issue.record("the first participant passed a stale ready alone: \(await entering.result)")
            return
        }
        #expect(try await observer.children(of: members) == ["first"])

        let second = try DoubleBarrier(store: try await handles.open(), path: path, count: 2)
        try await withDeadline("the second to enter") { try await second.enter(id: "second") }
        try await outcome(of: entering, "the first to enter once the group is complete").get()
        // `ready` now names this round's two, by the markers their members hold.
        let markers = try await [members.child("first"), members.child("second")].asyncMap { try await observer.get($0)?.string }
        let named = try await observer.get(ready)?.string.split(separator: "\n").map(String.init)
        #expect(Set(named ?? []) == Set(markers.compactMap { $0 }), "ready names the two now in")

        try await withDeadline("both to leave") {
            async let firstOut: Void = first.leave(id: "first")
            async let secondOut: Void = second.leave(id: "second")
            _ = try await (firstOut, secondOut)
        }
        #expect(try await observer.children(of: members).isEmpty)
        #expect(try await observer.exists(ready) == false, "the last one out lowered the barrier")
    }

    /// Participants that complete a group at once over a stale `ready` all replace it (one after
    /// another, each adding itself): none is held back, and it ends naming every one of them.
    @Test(arguments: RecipeBackend.all)
    func participantsCompletingTogetherReplaceAStaleReady(backend: RecipeBackend) async throws {
        let handles = try Handles(backend)
        defer { Task { await handles.closeAll() } }
        let (path, members, ready) = try DoubleBarrier.testKeys()
        let observer = try await handles.open()
        _ = try await observer.create(ready, value: [], mode: .persistent)
        let ids = ["a", "b", "c"]
        let barriers = try await ids.asyncMap { _ in try DoubleBarrier(store: try await handles.open(), path: path, count: ids.count) }
        try await withDeadline("all to enter") {
            try await withThrowingTaskGroup(of: Void.self) { group in
                for (id, barrier) in zip(ids, barriers) { group.addTask { try await barrier.enter(id: id) } }
                try await group.waitForAll()
            }
        }
        let markers = try await ids.asyncMap { try await observer.get(members.child($0))?.string }
        let named = try await observer.get(ready)?.string.split(separator: "\n").map(String.init)
        #expect(Set(named ?? []) == Set(markers.compactMap { $0 }), "ready names the three now in")
        try await withDeadline("all to leave") {
            try await withThrowingTaskGroup(of: Void.self) { group in
                for (id, barrier) in zip(ids, barriers) { group.addTask { try await barrier.leave(id: id) } }
                try await group.waitForAll()
            }
        }
        #expect(try await observer.exists(ready) == false)
    }
}
