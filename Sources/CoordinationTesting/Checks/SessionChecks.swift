import Coordination

extension ConformanceSuite {
    static let sessionChecks: [ConformanceCheck] = [
        ConformanceCheck("session-first-event-is-current", clause: 7, "sessionEvents() first yields the current state: connected, equal to `session`, with a non-empty sessionID.") { ctx in
            let store = try await ctx.open()
            let events = ctx.sessionEvents(store)
            let first = try await events.next("the first session event")
            try expectEqual(first.state, .connected, "first session state")
            try expect(!first.sessionID.isEmpty, "the sessionID must not be empty")
            try expectEqual(store.session.state, .connected, "session.state")
            try expectEqual(store.session.sessionID, first.sessionID, "session.sessionID")
        },
        ConformanceCheck("session-ttl-positive", clause: 7, "session.ttl is positive, and a second subscriber also first gets the current state.") { ctx in
            let store = try await ctx.open()
            try expect(store.session.ttl > .zero, "the session TTL must be positive, got \(store.session.ttl)")
            let first = try await ctx.sessionEvents(store).next("the first session event")
            let second = try await ctx.sessionEvents(store).next("a second subscriber's first session event")
            try expectEqual(second, first, "both subscribers' first event")
        },
        ConformanceCheck("session-handles-have-distinct-sessions", clause: 7, "Two handles on one store have two different sessionIDs.") { ctx in
            let one = try await ctx.open()
            let two = try await ctx.open()
            try expect(one.session.sessionID != two.session.sessionID, "two handles must own two sessions: both are \(one.session.sessionID)")
        },
        ConformanceCheck("session-close-removes-ephemerals", clause: 7, "When a handle is closed its ephemeral keys vanish (seen by another handle's watch) while its persistent keys stay.") { ctx in
            let store = try await ctx.open()
            let observer = try await ctx.open()
            let ephemeral = try Key("/s/eph"), persistent = try Key("/s/per")
            _ = try await store.create(ephemeral, value: [], mode: .ephemeral)
            _ = try await store.create(persistent, value: [], mode: .persistent)
            let watch = ctx.watch(observer, try Key("/s"), scope: .subtree)
            _ = try await watch.snapshot()
            try expect(watch.state[ephemeral] != nil, "the snapshot must hold the ephemeral key")
            await store.close()
            try await watch.until("the ephemeral key to vanish after close") { $0[ephemeral] == nil }
            try expect(try await observer.exists(persistent), "the persistent key must stay")
        },
        ConformanceCheck("session-expiry-removes-ephemerals", clause: 7, "On session expiry the handle reports expired, then connected with a new sessionID; its ephemeral keys are gone (seen by another handle's watch) and its persistent keys stay.") { ctx in
            let store = try await ctx.open()
            let observer = try await ctx.open()
            let ephemeral = try Key("/s/eph"), persistent = try Key("/s/per")
            _ = try await store.create(ephemeral, value: [], mode: .ephemeral)
            _ = try await store.create(persistent, value: bytes("kept"), mode: .persistent)
            let watch = ctx.watch(observer, try Key("/s"), scope: .subtree)
            _ = try await watch.snapshot()
            try expect(watch.state[ephemeral] != nil, "the snapshot must hold the ephemeral key")
            let events = ctx.sessionEvents(store)
            let before = try await events.next("the current session state")
            try await ctx.harness.expireSession(of: store)
            let expired = try await events.until(.expired)
            try expectEqual(expired.sessionID, before.sessionID, "sessionID of the expired event")
            let renewed = try await events.until(.connected)
            try expect(renewed.sessionID != before.sessionID, "the new session must have a new sessionID, got \(renewed.sessionID) again")
            try await watch.until("the ephemeral key to vanish after expiry") { $0[ephemeral] == nil }
            try expectEqual(try await observer.get(persistent)?.value, bytes("kept"), "the persistent key after expiry")
        },
        ConformanceCheck("session-expired-reported-once-ephemerals-are-gone", clause: 7, "When a handle reports expired, its ephemeral keys are already gone: at once, no other handle reads them, and the handle creates the same keys again (plain, and in a transaction) without nodeExists, in its new session.") { ctx in
            let store = try await ctx.open()
            let observer = try await ctx.open()
            let plain = try Key("/members/plain"), inTransaction = try Key("/members/txn")
            for key in [plain, inTransaction] { _ = try await store.create(key, value: bytes("old"), mode: .ephemeral) }
            let events = ctx.sessionEvents(store)
            let before = try await events.next("the current session state")
            try await ctx.harness.expireSession(of: store)
            // Recipes re-create their ephemeral keys as soon as they read expired: an expiry reported
            // before the server removed them would make that fail, or find the dead session's key.
            _ = try await events.until(.expired, sameSession: before.sessionID)
            for key in [plain, inTransaction] {
                try expect(try await observer.get(key) == nil, "\(key), the expired session's ephemeral key, must be gone once expired is reported")
            }
            let created = try await store.create(plain, value: bytes("new"), mode: .ephemeral)
            let results = try await store.transaction([.create(inTransaction, value: bytes("new"), mode: .ephemeral)])
            try expect(created.isEphemeral && results.first?.createdRecord?.isEphemeral == true, "the keys created again must be ephemeral")
            let renewed = try await events.until(.connected)
            try expect(renewed.sessionID != before.sessionID, "a new session after the expiry, got \(renewed.sessionID) again")
            let watch = ctx.watch(observer, try Key("/members"), scope: .subtree)
            _ = try await watch.snapshot()
            try expect(
                watch.state[plain]?.value == bytes("new") && watch.state[inTransaction]?.value == bytes("new"),
                "both keys created again must be there: \(WatchCursor.describe(watch.state))")
            // They belong to the live session: they go when the handle closes.
            await store.close()
            try await watch.until("the keys created again to vanish when their handle closes") { $0[plain] == nil && $0[inTransaction] == nil }
        },
        ConformanceCheck("session-handle-works-after-expiry", clause: 7, "After expiry and the new session, the same handle reads, writes and creates ephemeral keys that belong to the new session.") { ctx in
            let store = try await ctx.open()
            let observer = try await ctx.open()
            let events = ctx.sessionEvents(store)
            let before = try await events.next("the current session state")
            try await ctx.harness.expireSession(of: store)
            _ = try await events.until(.expired)
            let renewed = try await events.until(.connected)
            try expect(renewed.sessionID != before.sessionID, "a new sessionID after expiry")
            try expectEqual(store.session.sessionID, renewed.sessionID, "session.sessionID after renewal")
            let key = try Key("/after/eph")
            let created = try await store.create(key, value: bytes("new"), mode: .ephemeral)
            try expect(created.isEphemeral, "the new key must be ephemeral")
            _ = try await store.put(try Key("/after/per"), value: bytes("p"))
            try expectEqual(try await observer.get(key)?.isEphemeral, true, "the new ephemeral key seen from another handle")
            let watch = ctx.watch(observer, key)
            _ = try await watch.snapshot()
            await store.close()
            try await watch.until("the new session's ephemeral key to vanish after close") { $0[key] == nil }
        },
        ConformanceCheck("session-closed-operations-unavailable", clause: 7, "After close(), every operation fails with unavailable (get, exists, create, set, delete, children, transaction, walk, watch).") { ctx in
            let store = try await ctx.open()
            let key = try Key("/k")
            _ = try await store.create(key, value: [], mode: .persistent)
            await store.close()
            try await expectThrows(code: .unavailable, "get after close") { try await store.get(key) }
            try await expectThrows(code: .unavailable, "exists after close") { try await store.exists(key) }
            try await expectThrows(code: .unavailable, "create after close") { try await store.create(try Key("/n"), value: [], mode: .persistent) }
            try await expectThrows(code: .unavailable, "set after close") { try await store.set(key, value: [], ifVersion: nil) }
            try await expectThrows(code: .unavailable, "delete after close") { try await store.delete(key, ifVersion: nil, recursive: false) }
            try await expectThrows(code: .unavailable, "children after close") { try await store.children(of: .root) }
            try await expectThrows(code: .unavailable, "transaction after close") { try await store.transaction([.check(key, version: nil)]) }
            try await expectThrows(code: .unavailable, "walk after close") { try await store.records(under: .root) }
            try await expectThrows(code: .unavailable, "watch after close") {
                for try await _ in store.watch(key, scope: .key) {}
            }
        },
        ConformanceCheck("session-closed-operations-unavailable-every-form", clause: 7, "After close(), the forms the plain check leaves out fail with unavailable too: exists(/), an ephemeral and an ephemeral-sequential create, a transaction creating an ephemeral key, and an empty transaction.") { ctx in
            let store = try await ctx.open()
            await store.close()
            try await expectThrows(code: .unavailable, "exists(/) after close") { try await store.exists(.root) }
            try await expectThrows(code: .unavailable, "ephemeral create after close") { try await store.create(try Key("/e"), value: [], mode: .ephemeral) }
            try await expectThrows(code: .unavailable, "ephemeral-sequential create after close") { try await store.create(try Key("/s-"), value: [], mode: .ephemeralSequential) }
            try await expectThrows(code: .unavailable, "transaction creating an ephemeral key after close") {
                try await store.transaction([.create(try Key("/t"), value: [], mode: .ephemeral)])
            }
            try await expectThrows(code: .unavailable, "empty transaction after close") { try await store.transaction([]) }
        },
        ConformanceCheck("session-close-in-flight-writes-tell-the-truth", clause: 9, "Creates and transactions in flight when close() is called succeed, fail with connectionLoss or timeout (outcome unknown), or fail with another code and were not applied: a write reported failed never lands.") { ctx in
            let observer = try await ctx.open()
            // Which creates are in flight at the close is up to timing: a few rounds make it likely
            // that some are, whatever the machine.
            for round in 0..<5 {
                let store = try await ctx.open()
                let parent = try Key("/closing-\(round)")
                // The session's ephemeral key goes when the server ends the session, after every
                // request the session sent before: once it is gone, those creates have landed or not.
                let marker = try parent.child("ephemeral")
                _ = try await store.create(marker, value: [], mode: .ephemeral)
                let watch = ctx.watch(observer, parent, scope: .subtree)
                _ = try await watch.snapshot()
                let keys = try (0..<100).map { try parent.child("k\($0)") }
                let outcomes = await withTaskGroup(of: (Key, CoordinationError?).self) { group in
                    for (index, key) in keys.enumerated() {
                        group.addTask {
                            do {
                                if index % 2 == 0 {
                                    _ = try await store.create(key, value: [1], mode: .persistent)
                                } else {
                                    _ = try await store.transaction([.create(key, value: [1], mode: .persistent)])
                                }
                                return (key, nil)
                            } catch let error as CoordinationError {
                                return (key, error)
                            } catch {
                                return (key, CoordinationError(.unavailable, "not a CoordinationError: \(error)"))
                            }
                        }
                    }
                    // Close once the first has answered, with the others in flight or about to be.
                    var outcomes: [(Key, CoordinationError?)] = []
                    if let first = await group.next() { outcomes.append(first) }
                    await store.close()
                    for await outcome in group { outcomes.append(outcome) }
                    return outcomes
                }
                try await watch.until("the closed handle's ephemeral key to vanish") { $0[marker] == nil }
                for (key, error) in outcomes {
                    let landed = try await observer.exists(key)
                    guard let error else {
                        try expect(landed, "the create of \(key) succeeded, so it must exist")
                        continue
                    }
                    if error.code == .connectionLoss || error.code == .timeout { continue }
                    try expect(!landed, "the create of \(key) failed with \(error.code) (a definite failure), yet it was applied: \(error)")
                }
            }
        },
        ConformanceCheck("session-stream-ends-with-closed", clause: 7, "close() delivers closed as the last session event and ends the stream; a subscriber after close gets closed and the end.") { ctx in
            let store = try await ctx.open()
            let events = ctx.sessionEvents(store)
            _ = try await events.next("the current session state")
            await store.close()
            var last: SessionEvent?
            while true {
                switch try await events.nextOrEnd("the session stream to end after close") {
                case .success(let event): last = event
                case .failure: try expectEqual(last?.state, .closed, "last session state before the end"); return
                }
            }
        },
        ConformanceCheck("session-subscribe-after-close", clause: 7, "sessionEvents() on a closed handle yields closed and ends; session.state is closed.") { ctx in
            let store = try await ctx.open()
            await store.close()
            try expectEqual(store.session.state, .closed, "session.state after close")
            let events = ctx.sessionEvents(store)
            try expectEqual(try await events.next("the state of a closed handle").state, .closed, "first event after close")
            if case .success(let extra) = try await events.nextOrEnd("the end of a closed handle's session stream") {
                throw failure("the session stream of a closed handle must end after closed, got \(extra)")
            }
        },
        ConformanceCheck("session-close-twice-harmless", clause: 7, "Calling close() twice is harmless, and the second handle on the store keeps working.") { ctx in
            let store = try await ctx.open()
            let other = try await ctx.open()
            await store.close()
            await store.close()
            _ = try await other.create(try Key("/still"), value: [], mode: .persistent)
            try expect(try await other.exists(try Key("/still")), "the other handle must keep working")
        },
        ConformanceCheck("session-last-contact-moves-while-connected", clause: 7, "While connected, `session.lastContact` keeps up with confirmed contact even on a handle nobody uses (keep-alives, probes), without a session event: an idle handle's moves past the instant it was opened well within a TTL.") { ctx in
            let store = try await ctx.open()
            let opened = ContinuousClock.now
            let ttl = store.session.ttl
            // No event says that contact was confirmed (it changes no state), so the handle is looked at.
            let deadline = opened.advanced(by: ttl * 7 / 10)
            var seen = store.session
            while seen.lastContact <= opened {
                try expect(ContinuousClock.now < deadline, "the last contact of an idle \(seen.state) handle stayed \(seen.lastContact.duration(to: .now)) old, with a TTL of \(ttl); a session must confirm contact within a third of its TTL and say so in `session`")
                try await Task.sleep(for: ttl / 50)
                seen = store.session
            }
        },
        ConformanceCheck("session-safe-until-semantics", clause: 7, "SessionEvent.safeUntil/isSafe: connected and reconnected are safe forever; suspended until lastContact + ttl; expired and closed never.") { _ in
            let contact = ContinuousClock.now
            func event(_ state: SessionState) -> SessionEvent {
                SessionEvent(state: state, sessionID: "s", ttl: .seconds(10), lastContact: contact)
            }
            for state in [SessionState.connected, .reconnected] {
                try expect(event(state).safeUntil == nil, "\(state) has no safeUntil")
                try expect(event(state).isSafe(at: contact.advanced(by: .seconds(3600))), "\(state) is safe an hour later")
            }
            let suspended = event(.suspended)
            try expectEqual(suspended.safeUntil, contact.advanced(by: .seconds(10)), "safeUntil of suspended")
            try expect(suspended.isSafe(at: contact.advanced(by: .seconds(9))), "suspended is safe before the TTL ran out")
            try expect(!suspended.isSafe(at: contact.advanced(by: .seconds(10))), "suspended is not safe once the TTL ran out")
            for state in [SessionState.expired, .closed] {
                try expect(!event(state).isSafe(at: contact), "\(state) is never safe")
            }
        },
        ConformanceCheck("session-ephemeral-set-by-another-handle-keeps-its-owner", clause: 7, "Another handle's set of an ephemeral key, plain or in a transaction, leaves it ephemeral and owned by its creator's session: it vanishes when that session expires, not when the writer closes.") { ctx in
            let owner = try await ctx.open()
            let writer = try await ctx.open()
            let observer = try await ctx.open()
            let plain = try Key("/o/plain"), inTransaction = try Key("/o/txn")
            _ = try await owner.create(plain, value: bytes("owner"), mode: .ephemeral)
            _ = try await owner.create(inTransaction, value: bytes("owner"), mode: .ephemeral)
            let set = try await writer.set(plain, value: bytes("writer"), ifVersion: 0)
            try expect(set.isEphemeral, "the record a set of an ephemeral key returns must be ephemeral")
            let results = try await writer.transaction([.set(inTransaction, value: bytes("writer"), ifVersion: 0)])
            try expect(results.first?.setRecord?.isEphemeral == true, "a transactional set of an ephemeral key returns an ephemeral record: \(results)")
            for key in [plain, inTransaction] {
                try expect(try await observer.get(key)?.isEphemeral == true, "\(key) read after another handle's set must be ephemeral")
            }
            await writer.close()
            for key in [plain, inTransaction] {
                try expectEqual(try await observer.get(key)?.value, bytes("writer"), "\(key) after the writer closed")
            }
            let watch = ctx.watch(observer, try Key("/o"), scope: .subtree)
            _ = try await watch.snapshot()
            try await ctx.harness.expireSession(of: owner)
            try await watch.until("both keys to vanish with their creator's session") { $0[plain] == nil && $0[inTransaction] == nil }
        },
    ]
}
