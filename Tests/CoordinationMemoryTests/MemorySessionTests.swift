import Coordination
@testable import CoordinationMemory
import Testing

/// Behaviour specific to the embedded store's simulated network and injectable clock; the
/// contract itself is covered by the conformance suite.
@Suite struct MemorySessionTests {
    let clock = ManualClock()
    var server: MemoryServer { MemoryServer(clock: clock) }

    /// A session that expires on the server's clock during a cut ends there at once (its
    /// ephemeral keys go), but the handle stays cut off: its calls fail, its watches wait and it
    /// says `suspended` until contact is back, when it reports `expired`, then `connected` on a
    /// new session, as a ZooKeeper or etcd client does. The handle used to move to a new session
    /// at the expiry and work again while the test still had it cut off.
    @Test func aSessionExpiredDuringACutIsLearnedOnlyWhenContactIsBack() async throws {
        let server = MemoryServer(clock: clock)
        let store = try await server.connect(sessionTTL: .seconds(5))
        let observer = try await server.connect()
        defer { Task { await store.close(); await observer.close() } }
        let lock = try Key("/lock")
        _ = try await store.create(lock, value: [1], mode: .ephemeral)
        var watched = try store.watch(Key("/w"), scope: .subtree).makeAsyncIterator()
        #expect(try await watched.next() == .snapshot([]))
        var lockEvents = observer.watch(lock, scope: .key).makeAsyncIterator()
        #expect(try await lockEvents.next() == .snapshot([try #require(try await observer.get(lock))]))
        var states = store.sessionEvents().makeAsyncIterator()
        let first = await states.next()
        #expect(first?.state == .connected)

        store.simulateDisconnect()
        #expect(await states.next()?.state == .suspended)
        clock.advance(by: .seconds(4))
        #expect(try await observer.exists(lock), "not expired before the TTL")
        clock.advance(by: .seconds(2))
        #expect(try await lockEvents.next() == .delete(lock), "the server ends the session on its clock")

        let written = try await observer.create(Key("/w/a"), value: [7])
        let read = await #expect(throws: CoordinationError.self) { try await store.get(lock) }
        #expect(read?.code == .unavailable, "still cut off after the expiry")
        let write = await #expect(throws: CoordinationError.self) { try await store.create(Key("/w/b"), value: [], mode: .persistent) }
        #expect(write?.code == .connectionLoss)
        #expect(store.session.state == .suspended)
        #expect(store.session.sessionID == first?.sessionID, "no new session while cut off")

        store.simulateReconnect()
        let expired = await states.next()
        #expect(expired?.state == .expired && expired?.sessionID == first?.sessionID)
        let renewed = await states.next()
        #expect(renewed?.state == .connected)
        #expect(renewed?.sessionID != first?.sessionID)
        // The watch heard nothing during the cut: its next event is the snapshot taken on contact.
        let parent = try #require(try await observer.get(Key("/w")))
        #expect(try await watched.next() == .snapshot([parent, written]))
        #expect(try await store.exists(lock) == false)
        _ = try await store.create(lock, value: [2], mode: .ephemeral)
    }

    /// Contact back after the session's deadline on the server's clock finds it expired, even
    /// before the server's expiry timer has run: the clock decides, not which task runs first.
    @Test func aReconnectPastTheDeadlineOnTheServersClockFindsTheSessionExpired() async throws {
        let server = MemoryServer(clock: clock)
        let store = try await server.connect(sessionTTL: .seconds(5))
        defer { Task { await store.close() } }
        var states = store.sessionEvents().makeAsyncIterator()
        let first = await states.next()
        store.simulateDisconnect()
        #expect(await states.next()?.state == .suspended)
        clock.advance(by: .seconds(5))
        store.simulateReconnect()
        let expired = await states.next()
        #expect(expired?.state == .expired && expired?.sessionID == first?.sessionID)
        #expect(await states.next()?.state == .connected)
    }

    /// A create that went out in a session that has ended since (it read the handle's session
    /// just before the expiry) made a key owned by no live session, which nothing removed: the
    /// conformance check of clause 7 waited for it in vain under load. It is refused, as servers do.
    @Test func anEphemeralCreateInAnEndedSessionIsRefused() async throws {
        let server = MemoryServer(clock: clock)
        let store = try await server.connect(sessionTTL: .seconds(5))
        defer { Task { await store.close() } }
        let ended = store.sessionNumber
        await store.expireSession()
        let key = try Key("/late")
        #expect(throws: CoordinationError.self) {
            try server.withTree { state throws(CoordinationError) in
                _ = try state.apply([.create(key, value: [], mode: .ephemeral, owner: ended)], namespace: .root)
            }
        }
        #expect(try await store.exists(key) == false, "no key of the ended session")
        let made = try await store.create(key, value: [], mode: .ephemeral)
        #expect(made.ownerSession == store.session.sessionID && made.ownerSession != MemoryStore.name(ended))
    }

    @Test func reconnectWithinTTLKeepsEphemeralsAndResyncsWatches() async throws {
        let server = MemoryServer(clock: clock)
        let store = try await server.connect(sessionTTL: .seconds(5))
        let writer = try await server.connect()
        defer { Task { await store.close(); await writer.close() } }
        _ = try await store.create(Key("/mine"), value: [], mode: .ephemeral)
        var events = try store.watch(Key("/w"), scope: .subtree).makeAsyncIterator()
        let opening = try await events.next()
        #expect(opening == .snapshot([]))

        store.simulateDisconnect()
        let record = try await writer.create(Key("/w/a"), value: [7])
        clock.advance(by: .seconds(3))
        store.simulateReconnect()
        #expect(store.session.state == .reconnected)
        // The change made while disconnected arrives as a fresh snapshot, not as a lost event.
        let resync = try await events.next()
        let parent = try #require(try await writer.get(Key("/w")))
        #expect(resync == .snapshot([parent, record]))
        #expect(try await writer.exists(Key("/mine")))
        clock.advance(by: .seconds(10))
        #expect(try await writer.exists(Key("/mine")), "a reconnected session does not expire")
    }

    /// A watch opened while the handle is cut off does not end: its first event is a snapshot
    /// once contact is back, after a reconnect or on the next session, as a ZooKeeper or etcd
    /// watch keeps trying (contract clause 8). Ending it with `connectionLoss` once stopped a
    /// scheduler worker for good.
    @Test func aWatchOpenedWhileCutOffStartsOnceContactIsBack() async throws {
        let server = MemoryServer(clock: clock)
        let store = try await server.connect(sessionTTL: .seconds(5))
        let writer = try await server.connect()
        defer { Task { await store.close(); await writer.close() } }

        store.simulateDisconnect()
        var reconnecting = try store.watch(Key("/w"), scope: .subtree).makeAsyncIterator()
        let record = try await writer.create(Key("/w/a"), value: [7])
        store.simulateReconnect()
        let parent = try #require(try await writer.get(Key("/w")))
        #expect(try await reconnecting.next() == .snapshot([parent, record]))

        store.simulateDisconnect()
        var expiring = try store.watch(Key("/w"), scope: .subtree).makeAsyncIterator()
        var states = store.sessionEvents().makeAsyncIterator()
        #expect(await states.next()?.state == .suspended)
        clock.advance(by: .seconds(6))
        store.simulateReconnect()
        #expect(await states.next()?.state == .expired)
        #expect(try await expiring.next() == .snapshot([parent, record]))
    }

    /// A close while cut off never reaches the server: the session keeps its ephemeral key until
    /// the TTL runs out on the server's clock, whatever the closed handle does meanwhile (a
    /// reconnect of it once made the session live on for good), as on ZooKeeper and etcd.
    @Test func aHandleClosedWhileCutOffLeavesItsSessionToExpireAfterTheTTL() async throws {
        let server = MemoryServer(clock: clock)
        let store = try await server.connect(sessionTTL: .seconds(5))
        let observer = try await server.connect()
        defer { Task { await observer.close() } }
        let key = try Key("/held")
        _ = try await store.create(key, value: [], mode: .ephemeral)
        var events = observer.watch(key, scope: .key).makeAsyncIterator()
        #expect(try await events.next() == .snapshot([try #require(try await observer.get(key))]))

        store.simulateDisconnect()
        await store.close()
        store.simulateReconnect()
        #expect(store.session.state == .closed)
        #expect(server.isDisconnected(session: store.sessionNumber), "the closed handle's session must not come back")
        clock.advance(by: .seconds(4))
        #expect(try await observer.exists(key), "kept until the TTL runs out")
        clock.advance(by: .seconds(2))
        #expect(try await events.next() == .delete(key))
    }

    @Test func namedServersAreSharedAndTTLComesFromTheURL() async throws {
        let registry = StoreRegistry([.memory])
        let name = "shared-\(UInt32.random(in: 0...UInt32.max))"
        let a = try await registry.open("memory://\(name)/ns?ttl=3s", logger: .init(label: "test"))
        let b = try await registry.open("memory://\(name)", logger: .init(label: "test"))
        defer { Task { await a.close(); await b.close() } }
        _ = try await a.create(Key("/x"), string: "hi")
        #expect(try await b.get(Key("/ns/x"))?.string == "hi")
        #expect(a.session.ttl == .seconds(3))
        await #expect(throws: CoordinationError.self) {
            _ = try await registry.open("memory://?bogus=1", logger: .init(label: "test"))
        }
    }

    /// The session TTLs ZooKeeper and etcd accept are the embedded store's too, so that a TTL
    /// tried out in memory works on a real server.
    @Test func sessionTTLsOutsideTheRangeOfEveryBackendAreRefused() async throws {
        let registry = StoreRegistry([.memory])
        for query in ["ttl=1ms", "ttl=20d"] {
            let error = await #expect(throws: CoordinationError.self, "\(query)") {
                _ = try await registry.open("memory://?\(query)", logger: .init(label: "test"))
            }
            #expect(error?.code == .invalidConfiguration)
            #expect(error?.message.contains("\(query) is outside the session TTLs every backend accepts, 1s to 1d") == true, "\(error?.message ?? "")")
        }
        let byHand = await #expect(throws: CoordinationError.self) { _ = try await MemoryServer().connect(sessionTTL: .milliseconds(999)) }
        #expect(byHand?.message.hasPrefix("session TTL 999ms is outside the session TTLs every backend accepts, 1s to 1d") == true)
        let longest = try await MemoryServer().connect(sessionTTL: .seconds(86_400))
        #expect(longest.session.ttl == .seconds(86_400))
        await longest.close()
    }

    /// A cut that begins as an expiry is taken in must cut the session the handle ends up in:
    /// the cut read the ended session, the expiry gave the handle a new one, and the cut then
    /// marked the ended one, leaving the handle cut off on a new session that nobody cut and that
    /// could never expire (its calls failing, its state `connected`, for good).
    @Test func aCutBegunAsAnExpiryIsTakenInCutsTheNewSession() async throws {
        let server = MemoryServer(clock: clock)
        for round in 0..<300 {
            let store = try await server.connect(sessionTTL: .seconds(5))
            async let cut: Void = { store.simulateDisconnect() }()
            async let expiry: Void = store.expireSession()
            _ = await (cut, expiry)
            // Wherever the cut fell, the handle is cut off, says so, and its session expires on the clock.
            #expect(store.session.state == .suspended, "round \(round): \(store.session.state) while cut off")
            let before = store.sessionNumber
            clock.advance(by: .seconds(6))
            store.simulateReconnect()
            #expect(store.sessionNumber != before, "round \(round): the cut session \(before) outlived its TTL")
            #expect(store.session.state == .connected, "round \(round)")
            await store.close()
        }
    }
}
