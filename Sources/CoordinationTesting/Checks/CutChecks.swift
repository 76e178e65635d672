import Coordination
import Synchronization

/// A connection lost for less than the TTL (clauses 7, 8, 9): the handle is cut off by the harness
/// (``ConformanceHarness/cutConnection(of:)``) only for as long as a check needs to act, always
/// well inside the TTL, so that the session must survive it.
extension ConformanceSuite {
    static let cutChecks: [ConformanceCheck] = [
        ConformanceCheck("session-survives-a-short-cut", clause: 7, "A handle cut off for less than the TTL reports suspended, carrying a last contact no later than the cut (the safe window runs from the last confirmed contact), then reconnected with the same sessionID (never expired or a new session); its ephemeral key stays throughout, seen by another handle, and still belongs to it: it goes when the handle closes.") { ctx in
            let store = try await ctx.open()
            let observer = try await ctx.open()
            let mine = try Key("/s/mine")
            _ = try await store.create(mine, value: bytes("mine"), mode: .ephemeral)
            let watch = ctx.watch(observer, try Key("/s"), scope: .subtree)
            _ = try await watch.snapshot()
            try expect(watch.state[mine]?.isEphemeral == true, "the snapshot must hold the ephemeral key")
            let events = ctx.sessionEvents(store)
            let before = try await events.next("the current session state")
            try expectEqual(before.state, .connected, "session state before the cut")
            try await ctx.cut(store)
            // No contact can be confirmed once the cut is in place: a later last contact would let a
            // holder trust the session past the server's end of it (clause 7's safe window).
            let cutInPlace = ContinuousClock.now
            let suspended = try await events.until(.suspended, sameSession: before.sessionID)
            try expectEqual(store.session.state, .suspended, "session.state during the cut")
            try expect(
                suspended.lastContact <= cutInPlace && store.session.lastContact <= cutInPlace,
                "suspended must carry the last contact confirmed before the cut: the event's is \(cutInPlace.duration(to: suspended.lastContact)) after the cut was in place, session's \(cutInPlace.duration(to: store.session.lastContact))")
            try expect(
                suspended.lastContact >= before.lastContact,
                "suspended must carry a last contact no older than connected's: \(suspended.lastContact) before \(before.lastContact)")
            // The server still holds the session: others read the key while its owner is cut off.
            try expectEqual(try await observer.get(mine)?.value, bytes("mine"), "the ephemeral key read by another handle during the cut")
            try await ctx.heal(store)
            let back = try await events.until(.reconnected, sameSession: before.sessionID)
            try expect(
                back.lastContact > suspended.lastContact,
                "reconnected must carry a newer last contact than suspended: \(back.lastContact) after \(suspended.lastContact)")
            try expectEqual(store.session.sessionID, before.sessionID, "session.sessionID after the cut")
            let after = try await store.create(try Key("/s/after"), value: [], mode: .ephemeral)
            try await watch.until("the handle's write after the cut", inspect: { event, _ in
                if case .delete(mine) = event { throw failure("the ephemeral key was deleted across a cut shorter than the TTL") }
            }) { $0[after.key] == after }
            try expectEqual(watch.state[mine]?.value, bytes("mine"), "the ephemeral key after the cut")
            await store.close()
            try await watch.until("both ephemeral keys to vanish when their handle closes") { $0[mine] == nil && $0[after.key] == nil }
        },
        ConformanceCheck("watch-loses-no-event-across-a-cut", clause: 8, "A subtree watch on a handle cut off for less than the TTL, while another handle creates, changes and deletes distinct keys: after the heal it delivers exactly those changes in store order, once each, or a fresh snapshot followed by changes in store order, once each; either way it converges to the store.") { ctx in
            let store = try await ctx.open()
            let writer = try await ctx.open()
            let folder = try Key("/w")
            let changed = try Key("/w/changed"), deleted = try Key("/w/deleted")
            for key in [changed, deleted, try Key("/w/kept")] { _ = try await writer.create(key, value: [], mode: .persistent) }
            let watch = ctx.watch(store, folder, scope: .subtree)
            _ = try await watch.snapshot()
            let atCut = watch.state
            let events = ctx.sessionEvents(store)
            let before = try await events.next("the current session state")
            try await ctx.cut(store)
            _ = try await events.until(.suspended, sameSession: before.sessionID)
            // One change of each kind, each to a key of its own, so that no coalescing of one key's
            // changes can excuse a missing event.
            var expected: [WatchEvent] = []
            expected.append(.put(try await writer.create(try Key("/w/created"), value: bytes("c"), mode: .persistent)))
            expected.append(.put(try await writer.set(changed, value: bytes("1"), ifVersion: nil)))
            try await writer.delete(deleted, ifVersion: nil, recursive: false)
            expected.append(.delete(deleted))
            expected.append(.put(try await writer.create(try Key("/w/later"), value: bytes("l"), mode: .persistent)))
            try await ctx.heal(store)
            _ = try await events.until(.reconnected, sameSession: before.sessionID)
            let sentinel = try await writer.create(try Key("/w/sentinel"), value: [], mode: .persistent)
            expected.append(.put(sentinel))
            var received: [WatchEvent] = []
            try await watch.until("the sentinel written after the cut", inspect: { event, _ in received.append(event) }) {
                $0[sentinel.key] == sentinel
            }
            let lastSnapshot = received.lastIndex { if case .snapshot = $0 { true } else { false } }
            if lastSnapshot == nil {
                try expectEqual(received, expected, "with no fresh snapshot, the events after the cut (the changes made during it, then the sentinel)")
            }
            // Between snapshots, events follow store order and none comes twice: a put is newer than
            // what the consumer holds for its key, a delete removes a key it holds.
            var position = -1
            var held = atCut
            for event in received {
                switch event {
                case .snapshot:
                    position = -1
                case .put(let record):
                    if let old = held[record.key] {
                        try expect(record.modRevision > old.modRevision, "put of \(record.key) at modRevision \(record.modRevision) delivered again")
                    }
                case .delete(let key):
                    try expect(held[key] != nil, "delete of \(key) delivered while the consumer no longer holds it: delivered twice")
                }
                held.apply(event)
                if case .snapshot = event { continue }
                guard let index = expected.firstIndex(of: event) else {
                    throw failure("the watch delivered \(event), which is none of the changes made: \(expected)")
                }
                let previous = position >= 0 ? "\(expected[position])" : "nothing"
                try expect(index > position, "\(event) delivered after \(previous): out of store order or twice")
                position = index
            }
            let truth = Dictionary(uniqueKeysWithValues: try await writer.records(under: folder).map { ($0.key, $0) })
            try expectEqual(WatchCursor.describe(watch.state), WatchCursor.describe(truth), "the watch's state after the cut")
            try expect(watch.state == truth, "the watch's records after the cut must equal the store's")
        },
        ConformanceCheck("operation-during-a-cut-fails-with-connection-code", clause: 9, "Every operation tried while the handle is cut off fails within the TTL, with the same code on every backend: a read (get, exists, children, walk) with unavailable (a read has no outcome to be unsure of), a write (create, ephemeral create, set, delete, transaction) with connectionLoss (outcome unknown) or unavailable, and then it was not applied; after the heal the same handle works again. A cut is no timeout: the connection is refused, not left unanswered.") { ctx in
            let store = try await ctx.open()
            let observer = try await ctx.open()
            let key = try Key("/k"), doomed = try Key("/doomed")
            let created = try Key("/new"), ephemeral = try Key("/new-eph"), inTransaction = try Key("/new-txn")
            _ = try await store.create(key, value: bytes("before"), mode: .persistent)
            _ = try await store.create(doomed, value: [], mode: .persistent)
            let events = ctx.sessionEvents(store)
            let before = try await events.next("the current session state")
            try await ctx.cut(store)
            _ = try await events.until(.suspended, sameSession: before.sessionID)
            typealias Attempt = (name: String, write: Bool, run: @Sendable () async throws -> Void)
            let attempts: [Attempt] = [
                ("get", false, { _ = try await store.get(key) }),
                ("exists", false, { _ = try await store.exists(key) }),
                ("children", false, { _ = try await store.children(of: .root) }),
                ("walk", false, { _ = try await store.records(under: .root) }),
                ("create", true, { _ = try await store.create(created, value: [], mode: .persistent) }),
                ("ephemeral create", true, { _ = try await store.create(ephemeral, value: [], mode: .ephemeral) }),
                ("set", true, { _ = try await store.set(key, value: bytes("during"), ifVersion: nil) }),
                ("delete", true, { try await store.delete(doomed, ifVersion: nil, recursive: false) }),
                ("transaction", true, { _ = try await store.transaction([.create(inTransaction, value: [], mode: .persistent)]) }),
            ]
            // All at once, so that the cut stays inside the TTL however long each takes to fail.
            let ttl = store.session.ttl
            let ended = Ended()
            do {
                try await within(ttl, awaiting: "every operation tried during the cut to end") {
                    await withTaskGroup(of: Void.self) { group in
                        for (index, attempt) in attempts.enumerated() {
                            group.addTask {
                                var outcome: CoordinationError?
                                do {
                                    try await attempt.run()
                                } catch let error as CoordinationError {
                                    outcome = error
                                } catch {
                                    outcome = CoordinationError(.unsupported, "not a CoordinationError: \(error)")
                                }
                                ended.errors.withLock { $0[index] = .some(outcome) }
                            }
                        }
                    }
                }
            } catch let timedOut as ConformanceFailure {
                let pending = ended.errors.withLock { ended in attempts.indices.filter { ended[$0] == nil }.map { attempts[$0].name } }
                throw failure("\(pending.joined(separator: ", ")) still running a TTL (\(ttl)) into the cut: \(timedOut.message)")
            }
            let outcomes = ended.errors.withLock { $0 }
            try await ctx.heal(store)
            _ = try await events.until(.reconnected, sameSession: before.sessionID)
            var definite: Set<String> = []
            for (index, attempt) in attempts.enumerated() {
                guard let error = outcomes[index] ?? nil else {
                    throw failure("\(attempt.name) succeeded while the handle was cut off from the server")
                }
                if attempt.write {
                    try expect(
                        [.connectionLoss, .unavailable].contains(error.code),
                        "the write \(attempt.name) during the cut must fail with connectionLoss or unavailable, got \(error)")
                } else {
                    try expectEqual(error.code, .unavailable, "the code of the read \(attempt.name) during the cut (\(error))")
                }
                if attempt.write && error.code == .unavailable { definite.insert(attempt.name) }
            }
            // unavailable says nothing was applied: hold the backend to it.
            if definite.contains("create") {
                try expect(!(try await observer.exists(created)), "create failed with unavailable, yet \(created) exists")
            }
            if definite.contains("ephemeral create") {
                try expect(!(try await observer.exists(ephemeral)), "ephemeral create failed with unavailable, yet \(ephemeral) exists")
            }
            if definite.contains("set") {
                try expectEqual(try await observer.get(key)?.version, 0, "version of \(key) after a set that failed with unavailable")
            }
            if definite.contains("delete") { try expect(try await observer.exists(doomed), "delete failed with unavailable, yet \(doomed) is gone") }
            if definite.contains("transaction") {
                try expect(!(try await observer.exists(inTransaction)), "transaction failed with unavailable, yet \(inTransaction) exists")
            }
            // The same handle, never reopened, works again.
            let current = try require(try await store.get(key), "\(key) read after the cut")
            let set = try await store.set(key, value: bytes("after"), ifVersion: current.version)
            try expectEqual(set.version, current.version + 1, "version after a set following the cut")
            let fresh = try await store.create(try Key("/fresh"), value: [], mode: .ephemeral)
            try expect(fresh.isEphemeral, "an ephemeral create after the cut")
            try expectEqual(try await observer.get(key)?.value, bytes("after"), "the set after the cut, read by another handle")
        },
        ConformanceCheck("session-closed-while-cut-off-leaves-ephemerals-to-the-ttl", clause: 7, "A handle closed while cut off is closed at once (its calls fail with unavailable, its session stream ends with closed), but the server never heard the close: its ephemeral key stays, still owned by its session, for another handle to read, until the TTL runs out; healing the closed handle brings nothing back.") { ctx in
            let store = try await ctx.open()
            let observer = try await ctx.open()
            let mine = try Key("/c/mine")
            let created = try await store.create(mine, value: bytes("mine"), mode: .ephemeral)
            let ttl = store.session.ttl
            let events = ctx.sessionEvents(store)
            _ = try await events.next("the current session state")
            try await ctx.cut(store)
            let cutInPlace = ContinuousClock.now
            await store.close()
            try await expectThrows(code: .unavailable, "get on the handle closed while cut off") { try await store.get(mine) }
            _ = try await events.until(.closed)
            let seen = try await observer.get(mine)
            // The server ends the session only after the TTL since the last contact: read well
            // before that, the key must be there. (A run stalled past the TTL proves nothing.)
            if ContinuousClock.now - cutInPlace < ttl {
                try expectEqual(seen?.ownerSession, created.ownerSession, "the ephemeral key of the handle closed while cut off, read by another handle at once")
            }
            try await ctx.heal(store)
            try await expectThrows(code: .unavailable, "get on the closed handle after the heal") { try await store.get(mine) }
        },
    ]
}

/// The outcome of each operation tried during a cut, by index, as each one ends: `.some(nil)` for a success.
private final class Ended: Sendable {
    let errors = Mutex<[Int: CoordinationError?]>([:])
}
