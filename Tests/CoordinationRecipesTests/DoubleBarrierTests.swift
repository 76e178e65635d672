import Coordination
import CoordinationRecipes
import CoordinationTestSupport
import Testing

@Suite(.serverLoadLimit) struct DoubleBarrierTests {
    /// Fewer than `count` participants wait; the one that completes the group lets everyone in.
    @Test(arguments: RecipeBackend.all)
    func enteringWaitsForExactlyCount(backend: RecipeBackend) async throws {
        let handles = try Handles(backend)
        defer { Task { await handles.closeAll() } }
        let path = try Key("/double")
        let observer = try await handles.open()
        let (passed, passedSignal) = AsyncStream<String>.makeStream()
        var early: [Task<Void, any Error>] = []
        for id in ["a", "b"] {
            let store = try await handles.open()
            early.append(Task {
                try await DoubleBarrier(store: store, path: path, count: 3).enter(id: id)
                passedSignal.yield(id)
            })
        }
        try await waitForEntries(observer, try path.child("members"), count: 2)
        // Two of three are in: neither may pass (a bounded wait: there is no event to wait for).
        let passedEarly = try await withThrowingTaskGroup(of: Bool.self) { group in
            group.addTask {
                for await _ in passed { return true }
                return false
            }
            group.addTask {
                try await Task.sleep(for: .milliseconds(300))
                return false
            }
            defer { group.cancelAll() }
            return try await group.next() ?? false
        }
        #expect(!passedEarly, "a participant passed with two of three in")
        #expect(try await observer.exists(try path.child("ready")) == false)
        let last = try DoubleBarrier(store: try await handles.open(), path: path, count: 3)
        try await withDeadline("the third participant to enter") { try await last.enter(id: "c") }
        for task in early { try await outcome(of: task, "the early two to enter").get() }
    }

    /// A participant that stops waiting to enter (cancelled) leaves the group: left there, it
    /// would be counted in, letting the others pass one short, and then hold up their leaving
    /// for as long as its session lives.
    @Test(arguments: RecipeBackend.all)
    func aCancelledEnterLeavesTheGroup(backend: RecipeBackend) async throws {
        let handles = try Handles(backend)
        defer { Task { await handles.closeAll() } }
        let path = try Key("/double")
        let members = try path.child("members")
        let observer = try await handles.open()
        let quitter = try await handles.open()
        let entering = Task { try await DoubleBarrier(store: quitter, path: path, count: 2).enter(id: "quitter") }
        try await waitForEntries(observer, members, count: 1)
        entering.cancel()
        await #expect(throws: CancellationError.self) { try await outcome(of: entering, "the cancelled enter to end").get() }
        #expect(try await observer.children(of: members).isEmpty, "the cancelled participant left")

        try await withDeadline("two others to enter and leave") {
            try await withThrowingTaskGroup(of: Void.self) { group in
                for id in ["x", "y"] {
                    let store = try await handles.open()
                    group.addTask {
                        let double = try DoubleBarrier(store: store, path: path, count: 2)
                        try await double.enter(id: id)
                        try await double.leave(id: id)
                    }
                }
                try await group.waitForAll()
            }
        }
    }

    /// A participant whose session ends while it waits to enter is out of the group (its
    /// ephemeral member is gone): it is told, rather than waiting for a group it is not in.
    @Test(arguments: RecipeBackend.all)
    func aParticipantWhoseSessionEndsWhileEnteringIsTold(backend: RecipeBackend) async throws {
        let handles = try Handles(backend)
        defer { Task { await handles.closeAll() } }
        let path = try Key("/double")
        let observer = try await handles.open()
        let store = try await handles.open()
        let entering = Task { try await DoubleBarrier(store: store, path: path, count: 2).enter(id: "a") }
        try await waitForEntries(observer, try path.child("members"), count: 1)
        try await backend.expire(store)
        let ended = try await outcome(of: entering, "the participant to be told", limit: .seconds(20))
        #expect { try ended.get() } throws: { isSessionLost($0) }
        // It can enter again, in its new session, and the group completes.
        try await withDeadline("both to enter") {
            let again = Task { try await DoubleBarrier(store: store, path: path, count: 2).enter(id: "a") }
            try await DoubleBarrier(store: try await handles.open(), path: path, count: 2).enter(id: "b")
            try await outcome(of: again, "the participant to enter again").get()
        }
    }

    /// An enter whose create reply was lost finds its member instead of failing and leaving it
    /// behind as an orphan the others would count; one whose reply to raising the barrier was
    /// lost does not fail after letting the others in.
    @Test(arguments: RecipeBackend.all)
    func anEnterRidesOutALostReply(backend: RecipeBackend) async throws {
        let handles = try Handles(backend)
        defer { Task { await handles.closeAll() } }
        let path = try Key("/double")
        let observer = try await handles.open()
        for error in [CoordinationError.Code.connectionLoss, .timeout] {
            // Both creates' replies are lost: the member's, then (a group of one) the barrier's.
            let flaky = FlakyStore(try await handles.open(), lostCreateReplies: 2, lostReplyError: error)
            let double = try DoubleBarrier(store: flaky, path: path, count: 1)
            try await withDeadline("entering") { try await double.enter(id: "a") }
            #expect(flaky.failures == 2, "the member's and the barrier's replies were lost")
            #expect(try await observer.children(of: try path.child("members")) == ["a"])
            try await withDeadline("leaving") { try await double.leave(id: "a") }
            #expect(try await observer.children(of: try path.child("members")).isEmpty, "the member left")
            #expect(try await observer.exists(try path.child("ready")) == false, "the barrier was lowered")
        }
        // A duplicate id is still refused, and the live participant left alone.
        let first = try await handles.open()
        let live = Task { try await DoubleBarrier(store: first, path: path, count: 2).enter(id: "dup") }
        try await waitForEntries(observer, try path.child("members"), count: 1)
        await #expect(throws: CoordinationError.self) {
            try await DoubleBarrier(store: try await handles.open(), path: path, count: 2).enter(id: "dup")
        }
        #expect(try await observer.children(of: try path.child("members")) == ["dup"])
        live.cancel()
        _ = try await outcome(of: live, "the cancelled enter to end")
    }
}

extension DoubleBarrierTests {
    /// A participant whose member was made in a new session (the old one ended just before its
    /// create, which found out) and that gives up removes that member even through a failed
    /// delete: it retries while the member's session lives, not the one it read before joining.
    /// Left there, the member would count the others in one short and hold up their leaving.
    @Test(arguments: RecipeBackend.all)
    func aGivenUpEnterInASessionNewerThanItReadLeavesTheGroup(backend: RecipeBackend) async throws {
        let handles = try Handles(backend)
        defer { Task { await handles.closeAll() } }
        let path = try Key("/double")
        let members = try path.child("members")
        let observer = try await handles.open()
        let base = try await handles.open()
        let old = base.session
        try await backend.expire(base)
        let store = FlakyStore(LateSessionStore(base, stale: old), deletes: 1)
        let entering = Task { try await DoubleBarrier(store: store, path: path, count: 2).enter(id: "quitter") }
        try await waitForEntries(observer, members, count: 1)
        entering.cancel()
        await #expect(throws: CancellationError.self) { try await outcome(of: entering, "the cancelled enter to end").get() }
        #expect(store.failures == 1, "the first delete failed")
        #expect(try await observer.children(of: members).isEmpty, "the participant that gave up left")
    }
}

extension DoubleBarrierTests {
    /// A leave whose delete of its member fails with an error that may pass (contact lost) tries
    /// it again: thrown, the member stayed in, and every other participant's leave waited for it
    /// for as long as its session lived.
    @Test(arguments: RecipeBackend.all)
    func aLeaveRidesOutAFailedDelete(backend: RecipeBackend) async throws {
        let handles = try Handles(backend)
        defer { Task { await handles.closeAll() } }
        let path = try Key("/double")
        let observer = try await handles.open()
        let flaky = try DoubleBarrier(store: FlakyStore(try await handles.open(), deletes: 1), path: path, count: 2)
        let steady = try DoubleBarrier(store: try await handles.open(), path: path, count: 2)
        try await withDeadline("both to enter and leave") {
            async let flakyRound: Void = { try await flaky.enter(id: "flaky"); try await flaky.leave(id: "flaky") }()
            async let steadyRound: Void = { try await steady.enter(id: "steady"); try await steady.leave(id: "steady") }()
            _ = try await (flakyRound, steadyRound)
        }
        #expect(try await observer.children(of: try path.child("members")).isEmpty, "both left")
        #expect(try await observer.exists(try path.child("ready")) == false, "the barrier was lowered")
    }

    /// A leave cancelled before it saw who is in still removes its member: the others' leave
    /// waits for every member that was in, and one left there held them up for as long as the
    /// cancelled participant's session lived.
    @Test(arguments: RecipeBackend.all)
    func aCancelledLeaveStillLeaves(backend: RecipeBackend) async throws {
        let handles = try Handles(backend)
        defer { Task { await handles.closeAll() } }
        let path = try Key("/double")
        let observer = try await handles.open()
        let quitter = try DoubleBarrier(store: try await handles.open(), path: path, count: 2)
        let steady = try DoubleBarrier(store: try await handles.open(), path: path, count: 2)
        try await withDeadline("both to enter") {
            async let quitterIn: Void = quitter.enter(id: "quitter")
            async let steadyIn: Void = steady.enter(id: "steady")
            _ = try await (quitterIn, steadyIn)
        }
        let leaving = Task {
            withUnsafeCurrentTask { $0?.cancel() }
            try await quitter.leave(id: "quitter")
        }
        _ = try await outcome(of: leaving, "the cancelled leave to end")
        try await withDeadline("the other participant to leave") { try await steady.leave(id: "steady") }
        #expect(try await observer.children(of: try path.child("members")).isEmpty, "both left")
    }
}
