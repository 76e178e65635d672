import Coordination
import CoordinationRecipes
import CoordinationTestSupport
import Synchronization
import Testing

/// Who leads at once, as the bodies themselves see it: `most` above one is two leaders.
final class Leading: Sendable {
    private let state = Mutex((now: 0, most: 0))

    func enter() { state.withLock { $0.now += 1; $0.most = max($0.most, $0.now) } }
    func leave() { state.withLock { $0.now -= 1 } }
    var most: Int { state.withLock { $0.most } }

    /// Leads (counted) until cancelled; says so on `cancelled` on the way out.
    func leadUntilCancelled(cancelled: Shared<Bool>? = nil) async throws {
        enter()
        defer { leave() }
        do {
            try await Task.sleep(for: .seconds(3600))
        } catch {
            cancelled?.withLock { $0 = true }
            throw error
        }
    }
}

/// `election` leading (``LeaderElection/lead(_:)``) until cancelled, counted by `leading`, each
/// time it is elected told on `leads`.
func leadingUntilCancelled(
    _ election: LeaderElection, _ leading: Leading = Leading()
) -> (task: Task<Void, any Error>, leads: AsyncStream<LockLease>) {
    let (leads, elected) = AsyncStream<LockLease>.makeStream()
    let task = Task {
        try await election.lead { lease in
            elected.yield(lease)
            try await leading.leadUntilCancelled()
        }
    }
    return (task, leads)
}

/// `election` taking leadership once (``LeaderElection/withLeadership(timeout:_:)``), told on
/// `leads`, and resigning at once with its token.
func leadingOnce(_ election: LeaderElection) -> (task: Task<Int64, any Error>, leads: AsyncStream<LockLease>) {
    let (leads, elected) = AsyncStream<LockLease>.makeStream()
    let task = Task {
        try await election.withLeadership { lease in
            elected.yield(lease)
            return lease.token
        }
    }
    return (task, leads)
}

/// The next element of `stream`, failing after the deadline.
func next<T: Sendable>(_ stream: AsyncStream<T>, _ what: String) async throws -> T {
    try await withDeadline(what) {
        var iterator = stream.makeAsyncIterator()
        guard let value = await iterator.next() else { throw CancellationError() }
        return value
    }
}

/// The queue under `path` as `store` sees it, first in line first.
func candidates(_ store: any CoordinationStore, _ path: Key) async throws -> [String] {
    try await SequentialQueue(store: store, path: path).entries()
}

@Suite(.serverLoadLimit) struct ElectionTests {
    /// A leader whose handle has lost contact for longer than the TTL stops leading (its body is
    /// cancelled and its entry removed) before the next candidate begins; `lead` then waits for
    /// its session and campaigns again, behind the new leader, with one entry and no stale one.
    @Test(arguments: RecipeBackend.all)
    func aSuspendedLeaderStepsDownFirstAndCampaignsAgainBehindTheNext(backend: RecipeBackend) async throws {
        let handles = try Handles(backend)
        defer { Task { await handles.closeAll() } }
        let path = try Key("/election")
        let observer = try await handles.open()
        let suspendable = SuspendableStore(try await handles.open())
        let leading = Leading()
        let cancelled = Shared(false)
        let (aLeads, aLeadsSignal) = AsyncStream<LockLease>.makeStream()
        let a = Task {
            try await LeaderElection(store: suspendable, path: path, identity: "a").lead { lease in
                aLeadsSignal.yield(lease)
                try await leading.leadUntilCancelled(cancelled: cancelled)
            }
        }
        let first = try await next(aLeads, "a to lead")

        let (bLeads, bLeadsSignal) = AsyncStream<LockLease>.makeStream()
        let (bMayGo, bMayGoSignal) = AsyncStream<Void>.makeStream()
        let b = Task {
            try await LeaderElection(store: try await handles.open(), path: path, identity: "b").withLeadership { lease in
                leading.enter()
                defer { leading.leave() }
                bLeadsSignal.yield(lease)
                for await _ in bMayGo { break }
                return lease.token
            }
        }
        try await waitForEntries(observer, path, count: 2)
        // Contact lost a moment less than a TTL ago: the leader steps down when the TTL is over.
        suspendable.suspend(lastContact: .now - suspendable.base.session.ttl + .milliseconds(300))
        let second = try await next(bLeads, "b to lead")
        #expect(cancelled.withLock { $0 }, "a's body was cancelled")
        #expect(leading.most == 1, "a stopped leading before b began")
        #expect(second.token > first.token)
        #expect(try await candidates(observer, path) == [second.key.name], "a left no entry behind")

        // Contact is back, the same session: a campaigns again, behind b.
        suspendable.resume()
        try await waitForEntries(observer, path, count: 2)
        let queue = try await candidates(observer, path)
        #expect(queue.first == second.key.name, "b still leads")
        let lastName = try #require(queue.last)
        let behind = try #require(try await observer.get(try path.child(lastName)))
        #expect(behind.value == Array("a".utf8), "a's new entry is behind b's")
        #expect(try await LeaderElection(store: observer, path: path, identity: "o").currentLeader()?.identityString == "b")
        bMayGoSignal.yield()
        #expect(try await outcome(of: b, "b to resign").get() == second.token)
        let again = try await next(aLeads, "a to lead again")
        #expect(again.token > second.token && again.key == behind.key)
        #expect(leading.most == 1)
        a.cancel()
        await #expect(throws: CancellationError.self) { try await outcome(of: a, "the cancelled lead to end").get() }
        #expect(try await candidates(observer, path).isEmpty)
    }

    /// `lead` cancelled while it waits for its session to come back (its leadership lost to a
    /// suspension) says it was cancelled, not that the handle was closed.
    @Test(arguments: RecipeBackend.all)
    func leadCancelledWhileWaitingForItsSessionThrowsCancellation(backend: RecipeBackend) async throws {
        let handles = try Handles(backend)
        defer { Task { await handles.closeAll() } }
        let path = try Key("/election")
        let observer = try await handles.open()
        let suspendable = SuspendableStore(try await handles.open())
        let cancelled = Shared(false)
        let (leads, leadsSignal) = AsyncStream<Void>.makeStream()
        let a = Task {
            try await LeaderElection(store: suspendable, path: path, identity: "a").lead { _ in
                leadsSignal.yield()
                try await Leading().leadUntilCancelled(cancelled: cancelled)
            }
        }
        try await next(leads, "a to lead")
        suspendable.suspend(lastContact: .now - suspendable.base.session.ttl + .milliseconds(200))
        // Stepped down: its entry is gone, and it waits for a usable session (it stays suspended).
        try await waitForEntries(observer, path, count: 0)
        #expect(cancelled.withLock { $0 })
        a.cancel()
        let ended = try await outcome(of: a, "lead to end")
        #expect(throws: CancellationError.self) { try ended.get() }
    }

    /// A leader whose session expires is cancelled and told; `lead` campaigns again in the new
    /// session, one entry behind the new leader (none left ahead of it), and leads again in that
    /// session once the new leader goes.
    @Test(arguments: RecipeBackend.all)
    func anExpiredLeaderCampaignsAgainBehindTheNewLeader(backend: RecipeBackend) async throws {
        let handles = try Handles(backend)
        defer { Task { await handles.closeAll() } }
        let path = try Key("/election")
        let observer = try await handles.open()
        let aStore = try await handles.open()
        let cancelled = Shared(false)
        let (aLeads, aLeadsSignal) = AsyncStream<LockLease>.makeStream()
        let a = Task {
            try await LeaderElection(store: aStore, path: path, identity: "a").lead { lease in
                aLeadsSignal.yield(lease)
                try await Leading().leadUntilCancelled(cancelled: cancelled)
            }
        }
        let first = try await next(aLeads, "a to lead")
        let (b, bLeads) = leadingUntilCancelled(LeaderElection(store: try await handles.open(), path: path, identity: "b"))
        try await waitForEntries(observer, path, count: 2)
        try await backend.expire(aStore)
        let second = try await next(bLeads, "b to lead")
        #expect(second.token > first.token)
        // a campaigns again: two entries, b's first.
        try await withDeadline("a to campaign again") {
            while true {
                let queue = try await candidates(observer, path)
                if queue.count == 2, queue.first == second.key.name { return }
                try await SequentialQueue(store: observer, path: path).waitForChange(from: queue)
            }
        }
        #expect(cancelled.withLock { $0 }, "a's body was cancelled")
        #expect(!(try await candidates(observer, path)).contains(first.key.name))
        #expect(try await LeaderElection(store: observer, path: path, identity: "o").currentLeader()?.key == second.key)
        b.cancel()
        _ = try await outcome(of: b, "b's cancelled lead to end")
        let again = try await next(aLeads, "a to lead again")
        #expect(again.sessionID != first.sessionID && again.sessionID == aStore.session.sessionID, "it leads in its new session")
        #expect(again.token > second.token)
        #expect(try await candidates(observer, path) == [again.key.name])
        a.cancel()
        _ = try await outcome(of: a, "a's cancelled lead to end")
    }

    /// `withLeadership(timeout:)` that gives up throws `notAcquired`, runs nothing and leaves no
    /// entry; one that is waiting when the leader's session expires leads; and resigning a
    /// leadership already lost is no error.
    @Test(arguments: RecipeBackend.all)
    func withLeadershipTimesOutOrTakesOverFromAnExpiredLeader(backend: RecipeBackend) async throws {
        let handles = try Handles(backend)
        defer { Task { await handles.closeAll() } }
        let path = try Key("/election")
        let observer = try await handles.open()
        let aStore = try await handles.open()
        let bStore = try await handles.open()
        let held = try #require(try await LeaderElection(store: aStore, path: path, identity: "a").campaign())
        await #expect(throws: RecipeError.notAcquired("leadership of /election was not acquired within 200ms")) {
            try await LeaderElection(store: bStore, path: path, identity: "b").withLeadership(timeout: .milliseconds(200)) { _ in
                Issue.record("the body ran while another led")
            }
        }
        #expect(try await candidates(observer, path) == [held.key.name], "the attempt left no entry")

        let b = Task {
            try await LeaderElection(store: bStore, path: path, identity: "b").withLeadership(timeout: .seconds(60)) { lease in
                (lease.token, try await LeaderElection(store: observer, path: path, identity: "o").currentLeader())
            }
        }
        try await waitForEntries(observer, path, count: 2)
        try await backend.expire(aStore)
        let (token, leader) = try await outcome(of: b, "b to lead").get()
        #expect(token > held.token)
        #expect(leader?.identityString == "b" && leader?.token == token, "observers see b lead")
        try await held.release()  // resigning a leadership that ended with its session
        #expect(try await candidates(observer, path).isEmpty)
    }

    /// A candidate whose create's reply was lost (the outcome unknown) finds its entry: it leads
    /// with that one entry, observers see it, and resigning leaves the election empty.
    @Test(arguments: RecipeBackend.all)
    func aCampaignWhoseCreateReplyWasLostLeadsWithItsOneEntry(backend: RecipeBackend) async throws {
        let handles = try Handles(backend)
        defer { Task { await handles.closeAll() } }
        let path = try Key("/election")
        let observer = try await handles.open()
        for error in [CoordinationError.Code.connectionLoss, .timeout] {
            let flaky = FlakyStore(try await handles.open(), lostCreateReplies: 1, lostReplyError: error)
            let (key, queue, leader) = try await withDeadline("leading") {
                try await LeaderElection(store: flaky, path: path, identity: "a").withLeadership { lease in
                    (lease.key, try await candidates(observer, path),
                     try await LeaderElection(store: observer, path: path, identity: "o").currentLeader())
                }
            }
            #expect(flaky.failures == 1, "the create's reply was lost")
            #expect(queue == [key.name], "one entry while it led")
            #expect(leader?.key == key && leader?.identityString == "a")
            #expect(try await candidates(observer, path).isEmpty, "resigned")
        }
    }

    /// A campaign whose session changed under its create (the handle still naming the ended
    /// session, as an etcd handle does until the create finds its lease revoked) leads in the
    /// session its entry belongs to, with one entry, and is not cancelled at once for a session
    /// it does not hold; a create of the discarded join landing late blocks nobody.
    @Test(arguments: RecipeBackend.all)
    func aCampaignTheSessionChangedUnderLeadsInItsNewSession(backend: RecipeBackend) async throws {
        let handles = try Handles(backend)
        defer { Task { await handles.closeAll() } }
        let path = try Key("/election")
        let observer = try await handles.open()
        for landsTwice in [false, true] {
            let base = try await handles.open()
            let old = base.session
            try await backend.expire(base)
            let store: any CoordinationStore =
                LateSessionStore(base, stale: old, firstCreateLandsTwice: landsTwice)
            let (session, queue) = try await withDeadline("leading") {
                try await LeaderElection(store: store, path: path, identity: "a").withLeadership(timeout: .seconds(10)) { lease in
                    // Still leading after a round trip: not cancelled for the ended session.
                    let queue = try await candidates(observer, path)
                    try Task.checkCancellation()
                    #expect(queue == [lease.key.name], "one entry: the leader's")
                    return (lease.sessionID, queue)
                }
            }
            #expect(session != old.sessionID && session == base.session.sessionID, "the lease names the entry's session")
            #expect(queue.count == 1)
            #expect(try await candidates(observer, path).isEmpty, "resigned, and nothing left behind")
        }
    }

    /// A candidate cancelled while it campaigns leaves no entry, even through a failed delete,
    /// and its body never runs.
    @Test(arguments: RecipeBackend.all)
    func aCancelledCampaignLeavesNoEntry(backend: RecipeBackend) async throws {
        let handles = try Handles(backend)
        defer { Task { await handles.closeAll() } }
        let path = try Key("/election")
        let observer = try await handles.open()
        let held = try #require(try await LeaderElection(store: observer, path: path, identity: "a").campaign())
        let flaky = FlakyStore(try await handles.open(), deletes: 1)
        let ran = Shared(false)
        let campaigning = Task {
            try await LeaderElection(store: flaky, path: path, identity: "b").lead { _ in ran.withLock { $0 = true } }
        }
        try await waitForEntries(observer, path, count: 2)
        campaigning.cancel()
        let ended = try await outcome(of: campaigning, "the campaign to end")
        #expect(throws: CancellationError.self) { try ended.get() }
        #expect(flaky.failures == 1, "the first delete failed")
        #expect(try await candidates(observer, path) == [held.key.name], "the cancelled candidate left no entry")
        #expect(!ran.withLock { $0 })
        try await held.release()
    }

    /// No herd: a resignation wakes only the next candidate; each watches the one ahead of it.
    @Test(arguments: RecipeBackend.all)
    func aResignationWakesOnlyTheNextCandidate(backend: RecipeBackend) async throws {
        let handles = try Handles(backend)
        defer { Task { await handles.closeAll() } }
        let path = try Key("/election")
        let held = try #require(
            try await LeaderElection(store: try await handles.open(), path: path, identity: "leader").campaign())
        let counting = CountingStore(try await handles.open())
        let (led, ledSignal) = AsyncStream<Int64>.makeStream()
        let campaigns = (0..<5).map { index in
            Task {
                let lease = try #require(try await LeaderElection(store: counting, path: path, identity: "c\(index)").campaign())
                ledSignal.yield(lease.token)
            }
        }
        try await withDeadline("five candidates to watch") { await counting.snapshots.reach(5) }
        #expect(counting.wakeups.current == 0)
        try await held.release()
        let token = try await next(led, "the next candidate to lead")
        #expect(token > held.token)
        #expect(counting.wakeups.current == 1, "one resignation, one candidate woken")
        #expect(counting.snapshots.current == 5, "nobody else armed a watch again")
        for campaign in campaigns { campaign.cancel() }
        for campaign in campaigns { _ = try await outcome(of: campaign, "a cancelled campaign to end") }
    }
}

extension ElectionAndMembershipTests {
    /// `update` follows the membership through a session change: the member of the ended
    /// session cannot be updated, the one `stayJoined` made in the new session can, stays
    /// ephemeral (a watcher sees it go with its session), and is joined again as updated.
    @Test(arguments: RecipeBackend.all)
    func updateFollowsTheMembershipAcrossASessionChange(backend: RecipeBackend) async throws {
        let handles = try Handles(backend)
        defer { Task { await handles.closeAll() } }
        let group = try Key("/workers")
        let observer = Membership(store: try await handles.open(), group: group)
        let views = observer.watch()
        #expect(try await next(views, "the observer's first view") == [])
        let store = try await handles.open()
        let membership = Membership(store: store, group: group)
        let said = Mutex<[UInt8]>([1])
        let (joins, joinsSignal) = AsyncStream<(Member, String)>.makeStream()
        let staying = Task {
            try await membership.stayJoined(id: "m", metadata: { said.withLock { $0 } }) { member, session in
                joinsSignal.yield((member, session))
            }
        }
        defer { staying.cancel() }
        let (first, firstSession) = try await next(joins, "the first join")
        try await backend.expire(store)
        var second = first
        while true {
            let (member, session) = try await next(joins, "a join in the next session")
            if session != firstSession {
                second = member
                break
            }
        }
        #expect(second.joinedRevision > first.joinedRevision)
        await #expect {
            try await membership.update(first, metadata: [9])
        } throws: { ($0 as? CoordinationError)?.code == .noNode }

        said.withLock { $0 = [2] }
        let updated = try await membership.update(second, metadata: [2])
        #expect(updated.joinedRevision == second.joinedRevision && updated.metadata == [2])
        _ = try await nextMatching(views, "the observer to see the update") { $0.map(\.metadata) == [[2]] }
        #expect(try await observer.store.get(try group.child("m"))?.isEphemeral == true, "still the session's after the update")
        try await backend.expire(store)
        let rejoined = try await nextMatching(views, "stayJoined to join again after the second expiry") { view in
            view.first.map { $0.joinedRevision > updated.joinedRevision } ?? false
        }.first
        #expect(rejoined?.metadata == [2], "joined again as updated")
        #expect(try await observer.members().map(\.id) == ["m"])
    }
}

extension ElectionTests {
    /// A leader cut off for so long that its session must have ended gives up removing its entry
    /// (nothing can remove it); but the server kept the session after all (it may: a TTL is the
    /// least it waits), and the entry is still there when contact returns. `lead` campaigning
    /// again must not queue behind it: that entry, first in line for nobody, would keep everyone
    /// from leading for as long as the session lives.
    @Test(arguments: RecipeBackend.all)
    func aLeaderWhoseSessionSurvivedALongOutageDoesNotBlockTheElection(backend: RecipeBackend) async throws {
        let handles = try Handles(backend)
        defer { Task { await handles.closeAll() } }
        let path = try Key("/election")
        let observer = try await handles.open()
        let outage = SuspendableStore(try await handles.open(), failsCallsWhileSuspended: true)
        let (a, aLeads) = leadingUntilCancelled(LeaderElection(store: outage, path: path, identity: "a"))
        let first = try await next(aLeads, "a to lead")
        let (b, bLeads) = leadingUntilCancelled(LeaderElection(store: try await handles.open(), path: path, identity: "b"))
        try await waitForEntries(observer, path, count: 2)
        let subscribed = outage.subscriptions.current
        outage.suspend(lastContact: .now - outage.base.session.ttl * 3)
        // a steps down, fails to remove its entry, and waits for its session (one more stream).
        try await withDeadline("a to wait for its session") { await outage.subscriptions.reach(subscribed + 1) }
        #expect(try await candidates(observer, path).first == first.key.name, "the entry outlived the outage")
        outage.resume()
        let second = try await next(bLeads, "b to lead")
        #expect(second.token > first.token)
        try await waitForEntries(observer, path, count: 2)
        let queue = try await candidates(observer, path)
        #expect(queue.first == second.key.name && !queue.contains(first.key.name), "a campaigns again behind b, its old entry gone")
        b.cancel()
        _ = try await outcome(of: b, "b's cancelled lead to end")
        let again = try await next(aLeads, "a to lead again")
        #expect(again.token > second.token)
        a.cancel()
        _ = try await outcome(of: a, "a's cancelled lead to end")
        #expect(try await candidates(observer, path).isEmpty)
    }
}
