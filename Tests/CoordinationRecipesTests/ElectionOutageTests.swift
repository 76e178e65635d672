import Coordination
import CoordinationRecipes
import CoordinationTestSupport
import Testing

/// A candidate that gave up out of contact for longer than its session can last, in a session
/// the server kept after all (a ZooKeeper server restored from its snapshot, an etcd leader
/// change, renew sessions), does not leave its entry first in line for nobody.
extension ElectionTests {
    /// `withLeadership` steps down when the outage outlasts its safe window; its entry, which
    /// it could not remove then, goes once contact is back, so the next candidate leads and
    /// the same handle can campaign again. The entry used to stay for as long as the session
    /// lived: nobody led.
    @Test(arguments: RecipeBackend.all)
    func aLeadershipGivenUpInALongOutageIsResignedOnceBack(backend: RecipeBackend) async throws {
        let handles = try Handles(backend)
        defer { Task { await handles.closeAll() } }
        let path = try Key("/election")
        let observer = try await handles.open()
        let outage = SuspendableStore(try await handles.open(), failsCallsWhileSuspended: true)
        let election = LeaderElection(store: outage, path: path, identity: "a")
        let (aLeads, aLeadsSignal) = AsyncStream<LockLease>.makeStream()
        let leading = Task {
            try await election.withLeadership { lease in
                aLeadsSignal.yield(lease)
                try await Task.sleep(for: .seconds(3600))
            }
        }
        let first = try await next(aLeads, "a to lead")
        let (b, bLeads) = leadingOnce(LeaderElection(store: try await handles.open(), path: path, identity: "b"))
        try await waitForEntries(observer, path, count: 2)
        outage.suspend(lastContact: .now - outage.base.session.ttl * 3)
        let ended = try await outcome(of: leading, "a to step down")
        #expect { try ended.get() } throws: { isSessionLost($0) }
        #expect(try await candidates(observer, path).first == first.key.name, "the server kept the session, and the entry")

        outage.resume()
        let second = try await next(bLeads, "b to lead once a's old entry is gone")
        #expect(second.token > first.token)
        #expect(try await outcome(of: b, "b to resign").get() == second.token)
        let again = try #require(try await election.campaign(timeout: .seconds(10)), "a campaigns again on the same handle")
        #expect(again.token > second.token)
        try await again.release()
        #expect(try await candidates(observer, path).isEmpty)
    }

    /// `lead` cancelled while it waits for its session to come back, after stepping down in an
    /// outage longer than the session can last: its entry goes once contact is back. Nothing
    /// removed it (no campaign followed to take it for a stray), and nobody led for as long as
    /// the session lived.
    @Test(arguments: RecipeBackend.all)
    func leadCancelledInALongOutageLeavesOnceBack(backend: RecipeBackend) async throws {
        let handles = try Handles(backend)
        defer { Task { await handles.closeAll() } }
        let path = try Key("/election")
        let observer = try await handles.open()
        let outage = SuspendableStore(try await handles.open(), failsCallsWhileSuspended: true)
        let (a, aLeads) = leadingUntilCancelled(LeaderElection(store: outage, path: path, identity: "a"))
        let first = try await next(aLeads, "a to lead")
        let (b, bLeads) = leadingOnce(LeaderElection(store: try await handles.open(), path: path, identity: "b"))
        try await waitForEntries(observer, path, count: 2)
        let subscribed = outage.subscriptions.current
        outage.suspend(lastContact: .now - outage.base.session.ttl * 3)
        // a steps down, fails to remove its entry, and waits for its session (one more stream).
        try await withDeadline("a to wait for its session") { await outage.subscriptions.reach(subscribed + 1) }
        a.cancel()
        let ended = try await outcome(of: a, "lead to end")
        #expect(throws: CancellationError.self) { try ended.get() }
        #expect(try await candidates(observer, path).first == first.key.name, "the entry outlived the outage")

        outage.resume()
        let second = try await next(bLeads, "b to lead once a's old entry is gone")
        #expect(second.token > first.token)
        #expect(try await outcome(of: b, "b to resign").get() == second.token)
        #expect(try await candidates(observer, path).isEmpty, "nothing of a is left")
    }

    /// A campaign whose create landed but whose reply was lost as contact went, for longer
    /// than the session can last, fails (its entry cannot be looked for); the entry goes once
    /// contact is back. It stayed first in line, and nobody led, for as long as the session lived.
    @Test(arguments: RecipeBackend.all)
    func aCampaignWhoseReplyWasLostInALongOutageLeavesOnceBack(backend: RecipeBackend) async throws {
        let handles = try Handles(backend)
        defer { Task { await handles.closeAll() } }
        let path = try Key("/election")
        let observer = try await handles.open()
        let outage = SuspendableStore(try await handles.open(), failsCallsWhileSuspended: true)
        let cutOff = CutOffAfterCreateStore(outage, outage: outage.base.session.ttl * 3)
        await #expect {
            try await LeaderElection(store: cutOff, path: path, identity: "a").withLeadership { _ in
                Issue.record("led with its entry unknown")
            }
        } throws: { ($0 as? CoordinationError)?.code == .connectionLoss }
        #expect(try await candidates(observer, path).count == 1, "the create landed, and the server kept the session")

        outage.resume()
        let b = try #require(
            try await LeaderElection(store: try await handles.open(), path: path, identity: "b").campaign(timeout: .seconds(10)),
            "b leads once a's entry is gone")
        #expect(try await candidates(observer, path) == [b.key.name])
        try await b.release()
    }
}
