import Coordination
import CoordinationRecipes
import CoordinationTestSupport
import Testing

/// Participants that go through one double barrier round after round on the same path: one
/// round's stragglers and the next round's first arrivals are never mixed up.
@Suite(.serverLoadLimit) struct DoubleBarrierRoundTests {
    /// The last to leave a round hears that its member is gone only after the others have left
    /// and entered the next round (its delete's reply is late). It used to look at the members
    /// then, see the others' new ones, and wait for them to leave a round they could not
    /// complete without it: nobody ever got out.
    @Test(arguments: RecipeBackend.all)
    func aLateLeaverDoesNotWaitForTheNextRound(backend: RecipeBackend) async throws {
        let handles = try Handles(backend)
        defer { Task { await handles.closeAll() } }
        let path = try Key("/rounds")
        let members = try path.child("members")
        let observer = try await handles.open()
        let entered = Broadcast(0)
        let early = try await (0..<2).asyncMap { _ in try await handles.open() }
        let late = LateDeleteReplyStore(try await handles.open(), key: try members.child("late")) {
            try await waitForEntries(observer, members, count: 2)
        }
        try await withDeadline("two rounds", limit: .seconds(30)) {
            try await withThrowingTaskGroup(of: Void.self) { group in
                for (index, store) in early.enumerated() {
                    group.addTask {
                        let double = try DoubleBarrier(store: store, path: path, count: 3)
                        for _ in 0..<2 {
                            try await double.enter(id: "early\(index)")
                            entered.update { $0 += 1 }
                            try await double.leave(id: "early\(index)")
                        }
                    }
                }
                group.addTask {
                    let double = try DoubleBarrier(store: late, path: path, count: 3)
                    try await double.enter(id: "late")
                    entered.update { $0 += 1 }
                    // The others leave first: then only this member is left.
                    await entered.reach(3)
                    try await waitForEntries(observer, members, count: 1)
                    try await double.leave(id: "late")
                    try await double.enter(id: "late")
                    try await double.leave(id: "late")
                }
                try await group.waitForAll()
            }
        }
        #expect(try await observer.children(of: members).isEmpty)
        #expect(try await observer.exists(try path.child("ready")) == false, "the last round lowered the barrier")
    }

    /// Several participants go through several rounds: nobody passes a round's entry before all
    /// have come to it, nor its exit before all have come to that, and all rounds finish.
    @Test(arguments: RecipeBackend.all)
    func consecutiveRoundsKeepTheirParticipantsTogether(backend: RecipeBackend) async throws {
        let handles = try Handles(backend)
        defer { Task { await handles.closeAll() } }
        let path = try Key("/rounds")
        let participants = 3
        let rounds = 4
        let stores = try await (0..<participants).asyncMap { _ in try await handles.open() }
        // Per participant: how many enters and how many leaves it has begun.
        let begun = Shared((enters: [Int](repeating: 0, count: participants), leaves: [Int](repeating: 0, count: participants)))
        let early = Shared<[String]>([])
        try await withDeadline("\(rounds) rounds", limit: .seconds(60)) {
            try await withThrowingTaskGroup(of: Void.self) { group in
                for (index, store) in stores.enumerated() {
                    group.addTask {
                        let double = try DoubleBarrier(store: store, path: path, count: participants)
                        for round in 1...rounds {
                            begun.withLock { $0.enters[index] = round }
                            try await double.enter(id: "p\(index)")
                            if let behind = begun.withLock({ $0.enters.min() }), behind < round {
                                early.withLock { $0.append("p\(index) passed the entry of round \(round) before all came to it") }
                            }
                            begun.withLock { $0.leaves[index] = round }
                            try await double.leave(id: "p\(index)")
                            if let behind = begun.withLock({ $0.leaves.min() }), behind < round {
                                early.withLock { $0.append("p\(index) passed the exit of round \(round) before all came to it") }
                            }
                        }
                    }
                }
                try await group.waitForAll()
            }
        }
        #expect(early.withLock { $0 } == [])
        let observer = try await handles.open()
        #expect(try await observer.children(of: try path.child("members")).isEmpty)
        #expect(try await observer.exists(try path.child("ready")) == false)
    }
}

extension Sequence {
    /// `map` with an async transform, one element after another.
    func asyncMap<T>(_ transform: (Element) async throws -> T) async rethrows -> [T] {
        var results: [T] = []
        for element in self { results.append(try await transform(element)) }
        return results
    }
}
