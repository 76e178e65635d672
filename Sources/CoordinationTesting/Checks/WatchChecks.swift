import Coordination
import Synchronization

extension ConformanceSuite {
    static let watchChecks: [ConformanceCheck] = [
        ConformanceCheck("watch-key-missing-snapshot-empty", clause: 8, "A watch on a missing key first yields an empty snapshot.") { ctx in
            let store = try await ctx.open()
            let watch = ctx.watch(store, try Key("/missing"))
            try expectEqual(try await watch.snapshot(), [], "snapshot of a missing key")
        },
        ConformanceCheck("watch-key-existing-snapshot-record", clause: 8, "A watch on an existing key first yields a snapshot holding exactly its record, as get reads it.") { ctx in
            let store = try await ctx.open()
            let key = try Key("/w")
            _ = try await store.create(key, value: bytes("v"), mode: .persistent)
            _ = try await store.create(try Key("/w/child"), value: [], mode: .persistent)
            let record = try require(try await store.get(key), "the key")
            let watch = ctx.watch(store, key)
            try expectEqual(try await watch.snapshot(), [record], "snapshot of an existing key")
        },
        ConformanceCheck("watch-subtree-snapshot-everything-beneath", clause: 8, "A subtree watch first yields a snapshot of the key and every key beneath it (not siblings), sorted by key.") { ctx in
            let store = try await ctx.open()
            for path in ["/t/b/deep", "/t/a", "/t/c", "/tt", "/t2/x"] { _ = try await store.create(try Key(path), value: bytes(path), mode: .persistent) }
            let expected = try await store.records(under: try Key("/t")).sorted { $0.key < $1.key }
            let watch = ctx.watch(store, try Key("/t"), scope: .subtree)
            try expectEqual(try await watch.snapshot(), expected, "subtree snapshot")
        },
        ConformanceCheck("watch-subtree-of-root-snapshot", clause: 8, "A subtree watch of / first yields every key of the namespace (the root has no record).") { ctx in
            let store = try await ctx.open()
            for path in ["/a/b", "/c"] { _ = try await store.create(try Key(path), value: [], mode: .persistent) }
            let watch = ctx.watch(store, .root, scope: .subtree)
            try expectEqual(try await watch.snapshot().map(\.key), try ["/a", "/a/b", "/c"].map(Key.init), "keys in the snapshot of /")
        },
        ConformanceCheck("watch-key-put-and-delete-events", clause: 8, "After the snapshot, creating, setting and deleting the key are reported as put (with the record) and delete events, from another handle's writes too.") { ctx in
            let store = try await ctx.open()
            let writer = try await ctx.open()
            let key = try Key("/w")
            let watch = ctx.watch(store, key)
            _ = try await watch.snapshot()
            let created = try await writer.create(key, value: bytes("one"), mode: .persistent)
            try await watch.until("a put of the created key") { $0[key] == created }
            let changed = try await writer.set(key, value: bytes("two"), ifVersion: nil)
            var sawPut = false
            try await watch.until("a put of the changed key", inspect: { event, _ in
                if case .put(let record) = event, record == changed { sawPut = true }
            }) { $0[key] == changed }
            try expect(sawPut, "the change must arrive as a put event, not only in a snapshot")
            try await writer.delete(key, ifVersion: nil, recursive: false)
            var sawDelete = false
            try await watch.until("a delete of the key", inspect: { event, _ in
                if case .delete(let deleted) = event, deleted == key { sawDelete = true }
            }) { $0[key] == nil }
            try expect(sawDelete, "the deletion must arrive as a delete event, not only in a snapshot")
        },
        ConformanceCheck("watch-subtree-sees-deep-descendants", clause: 8, "A subtree watch on /a reports keys created and deleted deep beneath it, with their records.") { ctx in
            let store = try await ctx.open()
            let watch = ctx.watch(store, try Key("/a"), scope: .subtree)
            _ = try await watch.snapshot()
            let deep = try await store.create(try Key("/a/b/c/d"), value: bytes("deep"), mode: .persistent)
            let ancestors = try [Key("/a"), Key("/a/b"), Key("/a/b/c")]
            try await watch.until("the deep key and its created ancestors") { state in
                state[deep.key] == deep && ancestors.allSatisfy { state[$0] != nil }
            }
            try await store.delete(try Key("/a/b"), ifVersion: nil, recursive: true)
            try await watch.until("the recursive delete of /a/b") { state in state.keys.map(\.path) == ["/a"] }
        },
        ConformanceCheck("watch-subtree-large-tree-delete-order", clause: 8, "A subtree watch reports the recursive delete of a tree of a thousand keys in the same order as a small one's (each subtree before its root, siblings in reverse byte order), one delete event per key, though the deletes come faster than a watch re-reads.") { ctx in
            let store = try await ctx.open()
            let top = try Key("/big")
            _ = try await store.put(top, value: [])
            let folders = try (0..<20).map { try top.child(String(format: "f%02d", $0)) }
            var expected: [Key] = []
            for folder in folders.reversed() {
                _ = try await store.put(folder, value: [])
                let leaves = try (0..<50).map { try folder.child(String(format: "k%02d", $0)) }
                for leaf in leaves { _ = try await store.put(leaf, value: [1]) }
                expected += leaves.reversed() + [folder]
            }
            expected.append(top)
            let watch = ctx.watch(store, top, scope: .subtree)
            let snapshot = try await watch.snapshot()
            try expectEqual(snapshot.count, expected.count, "keys in the snapshot")
            try await store.delete(top, ifVersion: nil, recursive: true)
            var order: [Key] = []
            _ = try await watch.deletions(
                until: "the recursive delete of /big",
                inspect: { event, _ in if case .delete(let key) = event { order.append(key) } }
            ) { $0.isEmpty }
            if order != expected {
                // Where they part, not a thousand keys each.
                let at = zip(order, expected).enumerated().first { $0.element.0 != $0.element.1 }?.offset ?? min(order.count, expected.count)
                throw failure(
                    "the order of the \(order.count) delete events parts from the expected \(expected.count) at event \(at): expected "
                        + "\(expected[at..<min(at + 4, expected.count)].map(\.path)), got \(order[at..<min(at + 4, order.count)].map(\.path))")
            }
        },
        ConformanceCheck("watch-subtree-root-delete-order", clause: 8, "A subtree watch of the root reports the root's recursive delete (which empties the namespace) in the same order as any key's: each subtree before its root, the top-level keys in reverse byte order.") { ctx in
            let store = try await ctx.open()
            for path in ["/a", "/a/x", "/b", "/b/y", "/b/y/z", "/c", "/c-d"] { _ = try await store.put(try Key(path), value: []) }
            let watch = ctx.watch(store, .root, scope: .subtree)
            _ = try await watch.snapshot()
            try await store.delete(.root, ifVersion: nil, recursive: true)
            var order: [Key] = []
            _ = try await watch.deletions(
                until: "the recursive delete of the root",
                inspect: { event, _ in if case .delete(let key) = event { order.append(key) } }
            ) { $0.isEmpty }
            try expectEqual(order, try ["/c-d", "/c", "/b/y/z", "/b/y", "/b", "/a/x", "/a"].map(Key.init), "the order of the delete events")
        },
        ConformanceCheck("watch-subtree-tree-order", clause: 8, "A subtree watch reports a recursive delete children first (no key's delete before a key beneath it), each key as a delete event, in the same order on every backend (each subtree before its root, siblings in reverse byte order), and creates parents first: a create's missing ancestors and a transaction's creates, so a consumer keeping a tree never holds an orphan.") { ctx in
            let store = try await ctx.open()
            let watched = try Key("/cfg")
            // "/cfg/b/c-x" sorts before "/cfg/b/c/d" bytewise: key order is not tree order.
            let doomed = try ["/cfg/b", "/cfg/b/a", "/cfg/b/c", "/cfg/b/c/d", "/cfg/b/c/d/e", "/cfg/b/c-x"].map(Key.init)
            for key in doomed { _ = try await store.put(key, value: []) }
            let sibling = try Key("/cfg/x")
            _ = try await store.put(sibling, value: [])
            let watch = ctx.watch(store, watched, scope: .subtree)
            _ = try await watch.snapshot()
            let orphanCheck: (WatchEvent, [Key: Record]) throws -> Void = { event, state in
                switch event {
                case .delete(let key):
                    if let below = state.keys.first(where: { $0 != key && $0.isUnder(key) }) {
                        throw failure("\(key) was reported deleted while \(below) beneath it was still there")
                    }
                case .put(let record):
                    if let parent = record.key.parent, parent.isUnder(watched), state[parent] == nil {
                        throw failure("\(record.key) was reported before its parent \(parent)")
                    }
                case .snapshot: break
                }
            }
            try await store.delete(try Key("/cfg/b"), ifVersion: nil, recursive: true)
            var order: [Key] = []
            let deleted = try await watch.deletions(
                until: "the recursive delete of /cfg/b",
                inspect: { event, state in
                    if case .delete(let key) = event { order.append(key) }
                    try orphanCheck(event, state)
                }
            ) { state in
                state.keys.sorted() == [watched, sibling]
            }
            try expectEqual(deleted, Set(doomed), "keys reported as delete events")
            // Reverse preorder: /cfg/b/c-x, /cfg/b/c/d/e, /cfg/b/c/d, /cfg/b/c, /cfg/b/a, /cfg/b.
            try expectEqual(order, try ["/cfg/b/c-x", "/cfg/b/c/d/e", "/cfg/b/c/d", "/cfg/b/c", "/cfg/b/a", "/cfg/b"].map(Key.init), "the order of the delete events")
            let deep = try await store.create(try Key("/cfg/p/q/r"), value: [], mode: .persistent)
            try await watch.until("/cfg/p/q/r and its ancestors", inspect: orphanCheck) { $0[deep.key] == deep }
            let created = try ["/cfg/n", "/cfg/n/m", "/cfg/n/m/o"].map(Key.init)
            _ = try await store.transaction(created.map { .create($0, value: [], mode: .persistent) })
            try await watch.until("the transaction's creates", inspect: orphanCheck) { state in created.allSatisfy { state[$0] != nil } }
        },
        ConformanceCheck("watch-subtree-excludes-prefix-siblings", clause: 8, "A subtree watch on /a never reports /ab, /a2 or /b; a later sentinel change under /a arrives with none of them seen.") { ctx in
            let store = try await ctx.open()
            _ = try await store.create(try Key("/a"), value: [], mode: .persistent)
            let watch = ctx.watch(store, try Key("/a"), scope: .subtree)
            _ = try await watch.snapshot()
            for path in ["/ab", "/a2/x", "/b", "/ab/c"] { _ = try await store.create(try Key(path), value: [], mode: .persistent) }
            let sentinel = try Key("/a/sentinel")
            _ = try await store.create(sentinel, value: [], mode: .persistent)
            let watched = try Key("/a")
            try await watch.until("the sentinel", inspect: { _, state in
                for key in state.keys where !key.isUnder(watched) {
                    throw failure("a subtree watch on /a reported \(key)")
                }
            }) { $0[sentinel] != nil }
        },
        ConformanceCheck("watch-key-ignores-children", clause: 8, "A key watch on /k does not report its children: after a child is created, the next change seen is the key's own (sentinel) set.") { ctx in
            let store = try await ctx.open()
            let key = try Key("/k")
            _ = try await store.create(key, value: [], mode: .persistent)
            let watch = ctx.watch(store, key)
            _ = try await watch.snapshot()
            _ = try await store.create(try Key("/k/child"), value: [], mode: .persistent)
            _ = try await store.create(try Key("/k2"), value: [], mode: .persistent)
            let sentinel = try await store.set(key, value: bytes("sentinel"), ifVersion: nil)
            try await watch.until("the key's own set", inspect: { _, state in
                try expectEqual(Array(state.keys), [key], "keys a key watch reported")
            }) { $0[key] == sentinel }
        },
        ConformanceCheck("watch-events-ordered-per-key", clause: 8, "20 sets of one key are observed with non-decreasing versions (coalescing allowed), ending at version 20.") { ctx in
            let store = try await ctx.open()
            let key = try Key("/ordered")
            _ = try await store.create(key, value: [], mode: .persistent)
            let watch = ctx.watch(store, key)
            _ = try await watch.snapshot()
            let writer = try await ctx.open()
            for round in 1...20 { _ = try await writer.set(key, value: bytes("\(round)"), ifVersion: nil) }
            var lastVersion: Int64 = -1
            try await watch.until("version 20", inspect: { _, state in
                guard let record = state[key] else { throw failure("the key vanished from the watch state") }
                try expect(record.version >= lastVersion, "version \(record.version) observed after version \(lastVersion)")
                try expectEqual(record.value, bytes("\(record.version)"), "value observed with version \(record.version)")
                lastVersion = record.version
            }) { $0[key]?.version == 20 }
        },
        ConformanceCheck("watch-opened-during-writes-neither-loses-nor-repeats", clause: 8, "A watch opened while another handle is setting the key, again and again (each on a fresh watch), reports every change after its snapshot once: each put's version is above the snapshot's and the put's before it (coalescing allowed), and it ends at the last version.") { ctx in
            let store = try await ctx.open()
            let writer = try await ctx.open()
            let key = try Key("/racing")
            var last = try await writer.create(key, value: bytes("0"), mode: .persistent).version
            for round in 0..<6 {
                let writes = Task {
                    var version: Int64 = 0
                    for index in 1...15 { version = try await writer.set(key, value: bytes("\(round)-\(index)"), ifVersion: nil).version }
                    return version
                }
                // Opened with the writes already under way: the snapshot lands somewhere among them.
                let watch = ctx.watch(store, key)
                let snapshot = try await watch.snapshot()
                var seen = snapshot.first?.version ?? -1
                try expect(seen >= last, "round \(round): the snapshot holds version \(seen), older than \(last), written before the watch opened")
                last = try await writes.value
                try await watch.until("round \(round): version \(last)", inspect: { event, _ in
                    switch event {
                    case .put(let record):
                        try expect(record.version > seen, "round \(round): a put of version \(record.version) after version \(seen) was seen (a repeat, or out of order)")
                        seen = record.version
                    case .snapshot(let records):
                        let version = records.first?.version ?? -1
                        try expect(version >= seen, "round \(round): a fresh snapshot of version \(version) after version \(seen)")
                        seen = version
                    case .delete(let gone):
                        throw failure("round \(round): \(gone) was never deleted")
                    }
                }) { $0[key]?.version == last }
                watch.inbox.cancel()
            }
        },
        ConformanceCheck("watch-key-follows-parent-deleted-and-recreated", clause: 8, "A key watch on /p/k goes on after /p is deleted recursively and /p/k created again beneath a new /p, again and again: it reports the key gone, then each new record, and a later change.") { ctx in
            let store = try await ctx.open()
            let writer = try await ctx.open()
            let parent = try Key("/p"), key = try Key("/p/k")
            _ = try await writer.create(key, value: bytes("first"), mode: .persistent)
            let watch = ctx.watch(store, key)
            _ = try await watch.snapshot()
            for round in 0..<3 {
                try await writer.delete(parent, ifVersion: nil, recursive: true)
                try await watch.until("round \(round): /p/k gone with its parent") { $0[key] == nil }
                let created = try await writer.create(key, value: bytes("round \(round)"), mode: .persistent)
                try await watch.until("round \(round): /p/k created again") { $0[key] == created }
            }
            let changed = try await writer.set(key, value: bytes("changed"), ifVersion: nil)
            try await watch.until("a later change of /p/k") { $0[key] == changed }
        },
        ConformanceCheck("watch-converges-under-concurrent-writers", clause: 8, "With 4 handles making 50 random puts and deletes each over 10 keys at once, a subtree watcher applying events converges to a fresh walk of the store.") { ctx in
            let watcher = try await ctx.open()
            let root = try Key("/burst")
            _ = try await watcher.create(root, value: [], mode: .persistent)
            let watch = ctx.watch(watcher, root, scope: .subtree)
            _ = try await watch.snapshot()
            var writers: [any CoordinationStore] = []
            for _ in 0..<4 { writers.append(try await ctx.open()) }
            let keys = try (0..<10).map { try root.child("k\($0)") }
            try await withThrowingTaskGroup(of: Void.self) { group in
                for (index, writer) in writers.enumerated() {
                    group.addTask {
                        for round in 0..<50 {
                            let key = keys.randomElement()!
                            if Int.random(in: 0..<3) == 0 {
                                do { try await writer.delete(key, ifVersion: nil, recursive: false) } catch let error as CoordinationError where error.code == .noNode {}
                            } else {
                                _ = try await writer.put(key, value: bytes("w\(index)-\(round)"))
                            }
                        }
                    }
                }
                try await group.waitForAll()
            }
            let expected = Dictionary(uniqueKeysWithValues: try await watcher.records(under: root).map { ($0.key, $0) })
            try await watch.until("convergence to \(WatchCursor.describe(expected))") { $0 == expected }
        },
        ConformanceCheck("watch-snapshot-is-one-state-of-the-store", clause: 8, "A subtree watch's first snapshot is the state at one revision: while another handle moves the folder's only child by transactions (delete one key, create the next), each of up to 300 watches opened one after another first sees exactly one child, never none or two.") { ctx in
            let writer = try await ctx.open()
            let reader = try await ctx.open()
            let folder = try Key("/moving")
            _ = try await writer.create(try folder.child("k-0"), value: [], mode: .persistent)
            let stop = Atomic<Bool>(false)
            let mover = Task {
                var moved = 0
                while !stop.load(ordering: .relaxed) {
                    _ = try await writer.transaction([
                        .delete(try folder.child("k-\(moved)"), ifVersion: nil),
                        .create(try folder.child("k-\(moved + 1)"), value: [], mode: .persistent),
                    ])
                    moved += 1
                    // A store whose calls never suspend (the embedded one) would otherwise hold a
                    // thread of the cooperative pool for as long as the watches take to open: on
                    // two cores, two such checks at once left nothing to open them, or to stop them.
                    await Task.yield()
                }
                return moved
            }
            defer { stop.store(true, ordering: .relaxed) }
            for attempt in 0..<300 {
                let first = try await within(ctx.timeout, awaiting: "the first element of watch \(attempt + 1)") { () -> WatchEvent? in
                    for try await event in reader.watch(folder, scope: .subtree) { return event }
                    return nil
                }
                guard case .snapshot(let records) = first else {
                    throw failure("the first element of a watch must be a snapshot, got \(String(describing: first))")
                }
                let children = records.filter { $0.key.parent == folder }.map(\.key.name)
                try expect(
                    children.count == 1,
                    "watch \(attempt + 1)'s snapshot holds \(children) under \(folder), a state the store was never in (it always holds exactly one child)")
            }
            stop.store(true, ordering: .relaxed)
            let moves = try await mover.value
            try expect(moves > 0, "the writer must have moved the child while the watches were opened")
        },
        ConformanceCheck("watch-cancel-ends-stream", clause: 8, "Cancelling the task that consumes a watch ends its for-await loop.") { ctx in
            let store = try await ctx.open()
            let (started, signal) = AsyncStream<Void>.makeStream()
            let consumer = Task {
                for try await _ in store.watch(try Key("/c"), scope: .subtree) { signal.yield() }
            }
            let inbox = EventInbox(started, label: "the consumer", timeout: ctx.timeout)
            defer { inbox.cancel() }
            _ = try await inbox.next("the consumer's first element")
            consumer.cancel()
            try await within(ctx.timeout, awaiting: "the consuming loop to end after cancellation") {
                _ = await consumer.result
            }
        },
        ConformanceCheck("watch-key-of-root-reports-nothing", clause: 8, "A key watch of / (which has no record) starts with an empty snapshot and reports none of the writes beneath it: when its handle closes, it has yielded nothing but empty snapshots, and ends with unavailable.") { ctx in
            let writer = try await ctx.open()
            let watcher = try await ctx.open()
            let watch = ctx.watch(watcher, .root)
            try expectEqual(try await watch.snapshot(), [], "the snapshot of a key watch of /")
            let key = try Key("/x")
            _ = try await writer.create(key, value: bytes("1"), mode: .persistent)
            _ = try await writer.set(key, value: bytes("2"), ifVersion: nil)
            try await writer.delete(key, ifVersion: nil, recursive: false)
            _ = try await writer.create(try Key("/y/z"), value: [], mode: .ephemeral)
            // A watch of the last key, opened after the writes on the same handle, has seen them all
            // once its snapshot holds /y/z; the root watch had every chance to report them by then.
            let later = ctx.watch(watcher, try Key("/y/z"))
            try expectEqual(try await later.snapshot().map(\.key), [try Key("/y/z")], "a later watch's snapshot of /y/z")
            await watcher.close()
            while true {
                switch try await watch.inbox.nextOrEnd("the key watch of / to end after close") {
                case .success(.snapshot(let records)) where records.isEmpty:
                    continue
                case .success(let event):
                    throw failure("a key watch of / reported \(event)")
                case .failure(.finished):
                    throw failure("the key watch of / must end with unavailable after close, but finished normally")
                case .failure(.failed(let error)):
                    try expectEqual((error as? CoordinationError)?.code, .unavailable, "the key watch of /'s ending error (\(error))")
                    return
                }
            }
        },
        ConformanceCheck("watch-close-ends-stream", clause: 8, "Closing the handle ends its watch streams with unavailable.") { ctx in
            let store = try await ctx.open()
            let watch = ctx.watch(store, try Key("/x"), scope: .subtree)
            _ = try await watch.snapshot()
            await store.close()
            while true {
                switch try await watch.inbox.nextOrEnd("the watch to end after close") {
                case .success(let event):
                    guard case .snapshot = event else { throw failure("unexpected event after close: \(event)") }
                case .failure(.finished):
                    throw failure("the watch must end with unavailable after close, but finished normally")
                case .failure(.failed(let error)):
                    try expectEqual((error as? CoordinationError)?.code, .unavailable, "the watch's ending error (\(error))")
                    return
                }
            }
        },
        ConformanceCheck("watch-missing-key-sees-creation", clause: 8, "A key watch on a missing key with a missing parent reports the key when it is created later, with its record.") { ctx in
            let store = try await ctx.open()
            let key = try Key("/later/on/k")
            let watch = ctx.watch(store, key)
            try expectEqual(try await watch.snapshot(), [], "initial snapshot")
            let created = try await store.create(key, value: bytes("v"), mode: .ephemeral)
            try await watch.until("the created key") { $0[key] == created }
        },
        ConformanceCheck("watch-sees-ephemeral-vanish-on-expiry", clause: 8, "A subtree watch on another handle reports the deletion of an expired session's ephemeral key.") { ctx in
            let owner = try await ctx.open()
            let observer = try await ctx.open()
            let key = try Key("/members/m1")
            _ = try await owner.create(key, value: [], mode: .ephemeral)
            let watch = ctx.watch(observer, try Key("/members"), scope: .subtree)
            _ = try await watch.snapshot()
            try expect(watch.state[key]?.isEphemeral == true, "the snapshot must hold the ephemeral member")
            try await ctx.harness.expireSession(of: owner)
            try await watch.until("the member to vanish after expiry") { $0[key] == nil }
        },
        ConformanceCheck("watch-two-watchers-agree", clause: 8, "Two watches (on two handles) of one subtree both converge to the same state after a series of writes.") { ctx in
            let writer = try await ctx.open()
            let one = ctx.watch(try await ctx.open(), try Key("/pair"), scope: .subtree)
            let two = ctx.watch(try await ctx.open(), try Key("/pair"), scope: .subtree)
            _ = try await one.snapshot()
            _ = try await two.snapshot()
            for round in 0..<10 { _ = try await writer.put(try Key("/pair/k\(round % 3)"), value: bytes("\(round)")) }
            try await writer.delete(try Key("/pair/k1"), ifVersion: nil, recursive: false)
            let expected = Dictionary(uniqueKeysWithValues: try await writer.records(under: try Key("/pair")).map { ($0.key, $0) })
            try await one.until("the first watcher's convergence") { $0 == expected }
            try await two.until("the second watcher's convergence") { $0 == expected }
        },
        ConformanceCheck("watch-many-on-one-handle-independent", clause: 8, "Many watches of one key and one subtree on one handle (8 key watches, 8 subtree watches) each start with their own snapshot and converge to the same state; cancelling half of them, one by one between writes, ends only those: the others go on to the final state.") { ctx in
            let writer = try await ctx.open()
            let watcher = try await ctx.open()
            let folder = try Key("/many"), key = try Key("/many/k")
            _ = try await writer.create(key, value: bytes("0"), mode: .persistent)
            let opening = try require(try await writer.get(key), "\(key)")
            let keyWatches = (0..<8).map { _ in ctx.watch(watcher, key) }
            let subtreeWatches = (0..<8).map { _ in ctx.watch(watcher, folder, scope: .subtree) }
            for watch in keyWatches {
                try expectEqual(try await watch.snapshot(), [opening], "a key watch's snapshot among many on one handle")
            }
            for watch in subtreeWatches {
                try expectEqual(try await watch.snapshot().map(\.key), [folder, key], "a subtree watch's snapshot among many on one handle")
            }
            // Every other watch of each kind is cancelled, each after a write of its own.
            let cancelled = keyWatches.enumerated().filter { $0.offset % 2 == 0 }.map(\.element)
                + subtreeWatches.enumerated().filter { $0.offset % 2 == 0 }.map(\.element)
            for (round, watch) in cancelled.enumerated() {
                _ = try await writer.set(key, value: bytes("\(round + 1)"), ifVersion: nil)
                watch.inbox.cancel()
            }
            try await writer.delete(key, ifVersion: nil, recursive: false)
            _ = try await writer.create(try Key("/many/other"), value: [], mode: .persistent)
            let recreated = try await writer.create(key, value: bytes("last"), mode: .persistent)
            let expected = Dictionary(uniqueKeysWithValues: try await writer.records(under: folder).map { ($0.key, $0) })
            for (index, watch) in keyWatches.enumerated() where index % 2 == 1 {
                try await watch.until("key watch \(index) of 8 to reach the key created again") { $0 == [key: recreated] }
            }
            for (index, watch) in subtreeWatches.enumerated() where index % 2 == 1 {
                try await watch.until("subtree watch \(index) of 8 to converge") { $0 == expected }
            }
        },
        ConformanceCheck("watch-children-snapshot-direct-children", clause: 8, "A children watch first yields a snapshot of the key and its direct children only (no grandchildren, no siblings), sorted by key.") { ctx in
            let store = try await ctx.open()
            for path in ["/f/b/deep", "/f/a", "/f/c", "/ff", "/f2/x"] { _ = try await store.create(try Key(path), value: bytes(path), mode: .persistent) }
            var expected: [Record] = []
            for path in ["/f", "/f/a", "/f/b", "/f/c"] { expected.append(try require(try await store.get(try Key(path)), path)) }
            let watch = ctx.watch(store, try Key("/f"), scope: .children)
            try expectEqual(try await watch.snapshot(), expected, "children snapshot")
        },
        ConformanceCheck("watch-children-of-root-snapshot", clause: 8, "A children watch of / first yields the top-level keys of the namespace only.") { ctx in
            let store = try await ctx.open()
            for path in ["/a/b", "/c"] { _ = try await store.create(try Key(path), value: [], mode: .persistent) }
            let watch = ctx.watch(store, .root, scope: .children)
            try expectEqual(try await watch.snapshot().map(\.key), try ["/a", "/c"].map(Key.init), "keys in the children snapshot of /")
        },
        ConformanceCheck("watch-children-reports-children-not-deeper", clause: 8, "A children watch on /f reports its children's creation, change and deletion with their records, and the key's own changes; never a grandchild, /ff or /f2, from another handle's writes too.") { ctx in
            let (writer, folder, watch) = try await watchedFolder(ctx, scope: .children)
            let rejectOutsiders = rejectingKeys(deeperThan: 1, beneath: folder, scope: "children")
            let child = try Key("/f/c")
            let created = try await writer.create(child, value: bytes("one"), mode: .persistent)
            for path in ["/f/c/grand", "/f/c/grand/deeper", "/ff", "/f2/x"] { _ = try await writer.create(try Key(path), value: [], mode: .persistent) }
            let ephemeral = try await writer.create(try Key("/f/e"), value: bytes("e"), mode: .ephemeral)
            try await watch.until("the created children", inspect: rejectOutsiders) { $0[child] == created && $0[ephemeral.key] == ephemeral }
            let changed = try await writer.set(child, value: bytes("two"), ifVersion: nil)
            let folderChanged = try await writer.set(folder, value: bytes("folder"), ifVersion: nil)
            try await watch.until("the changed child and key", inspect: rejectOutsiders) { $0[child] == changed && $0[folder] == folderChanged }
            try await writer.delete(child, ifVersion: nil, recursive: true)
            try await writer.delete(ephemeral.key, ifVersion: nil, recursive: false)
            let sentinel = try await writer.create(try Key("/f/sentinel"), value: [], mode: .persistent)
            try await watch.until("the deletions and the sentinel", inspect: rejectOutsiders) { state in
                state[child] == nil && state[ephemeral.key] == nil && state[sentinel.key] == sentinel
            }
        },
        ConformanceCheck("watch-children-converges-under-concurrent-writers", clause: 8, "With 3 handles creating, setting and deleting children and grandchildren of one folder at once, a children watcher converges to the folder and its direct children as a fresh read gives them.") { ctx in
            let folder = try Key("/busy")
            let setup = try await ctx.open()
            _ = try await setup.create(folder, value: [], mode: .persistent)
            let watch = ctx.watch(try await ctx.open(), folder, scope: .children)
            _ = try await watch.snapshot()
            try await withThrowingTaskGroup(of: Void.self) { group in
                for writerIndex in 0..<3 {
                    let writer = try await ctx.open()
                    group.addTask {
                        for round in 0..<20 {
                            let child = try folder.child("k\((writerIndex + round) % 6)")
                            _ = try await writer.put(child, value: bytes("\(writerIndex)-\(round)"))
                            if round % 3 == 0 { _ = try await writer.put(try child.child("grand"), value: []) }
                            if round % 4 == 3 {
                                // Another writer may be creating beneath it or deleting it at the same moment.
                                do { try await writer.delete(child, ifVersion: nil, recursive: true) } catch let error as CoordinationError
                                    where error.code == .noNode || error.code == .notEmpty {}
                            }
                        }
                    }
                }
                try await group.waitForAll()
            }
            var expected: [Key: Record] = [folder: try require(try await setup.get(folder), "the folder")]
            for record in try await setup.records(under: folder) where record.key.parent == folder { expected[record.key] = record }
            try await watch.until("convergence to the folder's children") { $0 == expected }
        },
        ConformanceCheck("watch-grandchildren-snapshot-two-levels", clause: 8, "A grandchildren watch first yields a snapshot of the key, its children and their children only (no great-grandchildren, no siblings), sorted by key.") { ctx in
            let store = try await ctx.open()
            for path in ["/f/a/x/deep", "/f/a/y", "/f/b", "/ff/x", "/f2/x/y"] { _ = try await store.create(try Key(path), value: bytes(path), mode: .persistent) }
            var expected: [Record] = []
            for path in ["/f", "/f/a", "/f/a/x", "/f/a/y", "/f/b"] { expected.append(try require(try await store.get(try Key(path)), path)) }
            let watch = ctx.watch(store, try Key("/f"), scope: .grandchildren)
            try expectEqual(try await watch.snapshot(), expected, "grandchildren snapshot")
        },
        ConformanceCheck("watch-grandchildren-of-root-snapshot", clause: 8, "A grandchildren watch of / first yields the namespace's keys one and two levels deep only.") { ctx in
            let store = try await ctx.open()
            for path in ["/a/b/c/d", "/e"] { _ = try await store.create(try Key(path), value: [], mode: .persistent) }
            let watch = ctx.watch(store, .root, scope: .grandchildren)
            try expectEqual(try await watch.snapshot().map(\.key), try ["/a", "/a/b", "/e"].map(Key.init), "keys in the grandchildren snapshot of /")
        },
        ConformanceCheck("watch-grandchildren-reports-two-levels-not-deeper", clause: 8, "A grandchildren watch on /f reports the creation, change and deletion of its children and grandchildren with their records, the key's own changes, and a child's recursive deletion as deletes of it and its children; never a deeper key, /ff or /f2, from another handle's writes too.") { ctx in
            let (writer, folder, watch) = try await watchedFolder(ctx, scope: .grandchildren)
            let rejectOutsiders = rejectingKeys(deeperThan: 2, beneath: folder, scope: "grandchildren")
            let child = try Key("/f/c")
            let grandchild = try Key("/f/c/g")
            let createdChild = try await writer.create(child, value: bytes("one"), mode: .persistent)
            let createdGrandchild = try await writer.create(grandchild, value: bytes("one"), mode: .persistent)
            for path in ["/f/c/g/deeper", "/f/c/g/deeper/deepest", "/ff", "/ff/a/b", "/f2/x/y"] {
                _ = try await writer.create(try Key(path), value: [], mode: .persistent)
            }
            let ephemeral = try await writer.create(try Key("/f/c/e"), value: bytes("e"), mode: .ephemeral)
            try await watch.until("the created child and grandchildren", inspect: rejectOutsiders) { state in
                state[child] == createdChild && state[grandchild] == createdGrandchild && state[ephemeral.key] == ephemeral
            }

            let changedChild = try await writer.set(child, value: bytes("two"), ifVersion: nil)
            let changedGrandchild = try await writer.set(grandchild, value: bytes("two"), ifVersion: nil)
            _ = try await writer.set(try Key("/f/c/g/deeper"), value: bytes("two"), ifVersion: nil)
            let changedFolder = try await writer.set(folder, value: bytes("folder"), ifVersion: nil)
            var changesSeen: Set<Key> = []
            try await watch.until("the changed child, grandchild and key", inspect: { event, state in
                if case .put(let record) = event, record == changedChild || record == changedGrandchild { changesSeen.insert(record.key) }
                try rejectOutsiders(event, state)
            }) { state in
                state[child] == changedChild && state[grandchild] == changedGrandchild && state[folder] == changedFolder
            }
            try expectEqual(changesSeen, [child, grandchild], "changes that arrived as put events, not only in a snapshot")

            // A grandchild with keys beneath it goes; another comes.
            try await writer.delete(grandchild, ifVersion: nil, recursive: true)
            let second = try await writer.create(try Key("/f/c/g2"), value: bytes("g2"), mode: .persistent)
            try await watch.until("the deleted and the new grandchild", inspect: rejectOutsiders) { state in
                state[grandchild] == nil && state[second.key] == second
            }

            // The middle folder goes, with its children.
            try await writer.delete(child, ifVersion: nil, recursive: true)
            let sentinel = try await writer.create(try Key("/f/sentinel/s"), value: [], mode: .persistent)
            let deletesSeen = try await watch.deletions(until: "the middle folder's deletion and the sentinel", inspect: rejectOutsiders) { state in
                state[child] == nil && state[second.key] == nil && state[ephemeral.key] == nil && state[sentinel.key] == sentinel
            }
            try expectEqual(
                deletesSeen.intersection([child, second.key, ephemeral.key]), [child, second.key, ephemeral.key],
                "the middle folder and its children reported as delete events")
        },
        ConformanceCheck("watch-grandchildren-converges-under-concurrent-writers", clause: 8, "With 3 handles creating, setting and deleting keys one, two and three levels beneath one folder at once, a grandchildren watcher converges to the folder, its children and grandchildren as a fresh read gives them, never holding a deeper key.") { ctx in
            let folder = try Key("/busy")
            let setup = try await ctx.open()
            _ = try await setup.create(folder, value: [], mode: .persistent)
            let watch = ctx.watch(try await ctx.open(), folder, scope: .grandchildren)
            _ = try await watch.snapshot()
            try await withThrowingTaskGroup(of: Void.self) { group in
                for writerIndex in 0..<3 {
                    let writer = try await ctx.open()
                    group.addTask {
                        for round in 0..<24 {
                            let child = try folder.child("k\((writerIndex + round) % 4)")
                            let grandchild = try child.child("g\((2 * writerIndex + round) % 3)")
                            let value = bytes("\(writerIndex)-\(round)")
                            // Another writer may be creating beneath a key or deleting it at the same moment.
                            do {
                                switch round % 6 {
                                case 0: _ = try await writer.put(child, value: value)
                                case 1, 3: _ = try await writer.put(grandchild, value: value)
                                case 2: _ = try await writer.put(try grandchild.child("deep"), value: value)
                                case 4: try await writer.delete(grandchild, ifVersion: nil, recursive: true)
                                default: try await writer.delete(child, ifVersion: nil, recursive: true)
                                }
                            } catch let error as CoordinationError where error.code == .noNode || error.code == .notEmpty {}
                        }
                    }
                }
                try await group.waitForAll()
            }
            var expected: [Key: Record] = [folder: try require(try await setup.get(folder), "the folder")]
            for record in try await setup.records(under: folder) where record.key.parent == folder || record.key.parent?.parent == folder {
                expected[record.key] = record
            }
            try await watch.until("convergence to the folder's children and grandchildren", inspect: rejectingKeys(deeperThan: 2, beneath: folder, scope: "grandchildren")) {
                $0 == expected
            }
        },
        ConformanceCheck("watch-great-grandchildren-snapshot-three-levels", clause: 8, "A great-grandchildren watch first yields a snapshot of the key and the keys one, two and three levels beneath it only (nothing deeper, no siblings), sorted by key.") { ctx in
            let store = try await ctx.open()
            for path in ["/f/a/x/run/claim", "/f/a/y", "/f/b", "/ff/x/y/z", "/f2/x/y/z"] {
                _ = try await store.create(try Key(path), value: bytes(path), mode: .persistent)
            }
            var expected: [Record] = []
            for path in ["/f", "/f/a", "/f/a/x", "/f/a/x/run", "/f/a/y", "/f/b"] { expected.append(try require(try await store.get(try Key(path)), path)) }
            let watch = ctx.watch(store, try Key("/f"), scope: .greatGrandchildren)
            try expectEqual(try await watch.snapshot(), expected, "great-grandchildren snapshot")
        },
        ConformanceCheck("watch-great-grandchildren-reports-three-levels-not-deeper", clause: 8, "A great-grandchildren watch on /f reports the creation, change and deletion of keys one, two and three levels beneath it with their records (an ephemeral one included), and a recursive deletion as deletes of the keys in scope; never a key four levels deep, nor /ff, from another handle's writes too.") { ctx in
            let (writer, folder, watch) = try await watchedFolder(ctx, scope: .greatGrandchildren)
            let rejectOutsiders = rejectingKeys(deeperThan: 3, beneath: folder, scope: "great-grandchildren")
            _ = try await writer.create(try Key("/f/b"), value: [], mode: .persistent)
            _ = try await writer.create(try Key("/f/b/job"), value: bytes("job"), mode: .persistent)
            let run = try await writer.create(try Key("/f/b/job/run"), value: bytes("pending"), mode: .persistent)
            // Four levels deep: out of scope, as is its deletion below.
            let claim = try await writer.create(try Key("/f/b/job/run/claim"), value: bytes("w"), mode: .ephemeral)
            let sibling = try await writer.create(try Key("/f/b/job/live"), value: bytes("e"), mode: .ephemeral)
            for path in ["/ff", "/ff/b/job/run"] { _ = try await writer.create(try Key(path), value: [], mode: .persistent) }
            try await watch.until("the run and the ephemeral key three levels deep", inspect: rejectOutsiders) { state in
                state[run.key] == run && state[sibling.key] == sibling
            }
            let changed = try await writer.set(run.key, value: bytes("running"), ifVersion: nil)
            try await watch.until("the run's change", inspect: rejectOutsiders) { $0[run.key] == changed }
            try await writer.delete(claim.key, ifVersion: nil, recursive: false)
            try await writer.delete(try Key("/f/b/job"), ifVersion: nil, recursive: true)
            let sentinel = try await writer.create(try Key("/f/b/s"), value: [], mode: .persistent)
            let deletesSeen = try await watch.deletions(until: "the job's recursive deletion and the sentinel", inspect: rejectOutsiders) { state in
                state[run.key] == nil && state[sibling.key] == nil && state[sentinel.key] == sentinel
            }
            let job = try Key("/f/b/job")
            try expectEqual(deletesSeen.intersection([job, run.key, sibling.key]), [job, run.key, sibling.key], "the job and the keys beneath it reported as delete events")
            try expectEqual(deletesSeen.contains(claim.key), false, "the deletion of a key four levels deep")
        },
        ConformanceCheck("watch-change-before-delete-reported-before-it", clause: 8, "In every scope, a change of one key made before another key's (recursive) deletion is reported before that deletion: when a watcher applies a delete, it already holds the change (coalescing may make it later, never earlier than store order allows).") { ctx in
            let writer = try await ctx.open()
            let watcher = try await ctx.open()
            let folder = try Key("/w"), changed = try Key("/w/b")
            _ = try await writer.create(changed, value: [], mode: .persistent)
            for scope in [WatchScope.subtree, .greatGrandchildren, .grandchildren, .children] {
                for round in 0..<4 {
                    _ = try await writer.create(try Key("/w/d\(round)/e/f"), value: [], mode: .persistent)
                    _ = try await writer.create(try Key("/w/d\(round)/g"), value: [], mode: .persistent)
                }
                let watch = ctx.watch(watcher, folder, scope: scope)
                _ = try await watch.snapshot()
                // Back to back, so that a watcher that batches what it is told sees them together.
                var setVersions: [Int64] = []
                for round in 0..<4 {
                    // A create first, so that the watcher is busy reading it when the change's news comes.
                    let results = try await writer.transaction([
                        .create(try Key("/w/n\(round)"), value: [], mode: .persistent), .create(try Key("/w/n\(round)/x"), value: [], mode: .persistent),
                        .set(changed, value: bytes("\(round)"), ifVersion: nil),
                    ])
                    setVersions.append(try require(results[2].setRecord, "the set's record").version)
                    try await writer.delete(try Key("/w/d\(round)"), ifVersion: nil, recursive: true)
                }
                let sentinel = try await writer.create(try Key("/w/sentinel"), value: [], mode: .persistent)
                try await watch.until("every deletion and the sentinel (\(scope.rawValue))", inspect: { event, state in
                    guard case .delete(let key) = event, let round = (0..<4).first(where: { key.isUnder(try! Key("/w/d\($0)")) }) else { return }
                    let held = state[changed]?.version ?? -1
                    try expect(
                        held >= setVersions[round],
                        "\(scope.rawValue) watch: \(key) deleted while \(changed) is still at version \(held); it was set to version \(setVersions[round]) before that deletion")
                }) { state in state[sentinel.key] != nil && !state.keys.contains { $0.path.hasPrefix("/w/d") } }
                watch.inbox.cancel()
                try await writer.delete(sentinel.key, ifVersion: nil, recursive: false)
                for round in 0..<4 { try await writer.delete(try Key("/w/n\(round)"), ifVersion: nil, recursive: true) }
            }
        },
        ConformanceCheck("watch-puts-of-several-keys-in-store-order", clause: 8, "In every scope, changes and creations of several keys made one after another are reported in that order: each put's modRevision is at least that of every put before it (keys in byte order or a batch's reading order would break it).") { ctx in
            let writer = try await ctx.open()
            let watcher = try await ctx.open()
            let folder = try Key("/w")
            for path in ["/w/a", "/w/c", "/w/z"] { _ = try await writer.create(try Key(path), value: [], mode: .persistent) }
            for scope in [WatchScope.subtree, .greatGrandchildren, .grandchildren, .children] {
                let watch = ctx.watch(watcher, folder, scope: scope)
                _ = try await watch.snapshot()
                var lastRevision: Int64 = 0
                for round in 0..<3 {
                    // A create of two keys first, so that the watcher is busy reading them when the rest is told.
                    _ = try await writer.transaction([
                        .create(try Key("/w/n\(round)"), value: [], mode: .persistent), .create(try Key("/w/n\(round)/x"), value: [], mode: .persistent),
                    ])
                    _ = try await writer.set(try Key("/w/z"), value: bytes("\(round)"), ifVersion: nil)
                    _ = try await writer.set(try Key("/w/a"), value: bytes("\(round)"), ifVersion: nil)
                    _ = try await writer.create(try Key("/w/new\(round)"), value: [], mode: .persistent)
                    _ = try await writer.set(try Key("/w/c"), value: bytes("\(round)"), ifVersion: nil)
                    let sentinel = try await writer.create(try Key("/w/sentinel\(round)"), value: [], mode: .persistent)
                    // Each key changes once a round, and the next round waits for the watcher: no
                    // coalescing can excuse a put that comes after a later one.
                    try await watch.until("round \(round)'s writes (\(scope.rawValue))", inspect: { event, _ in
                        guard case .put(let record) = event else { return }
                        try expect(
                            record.modRevision >= lastRevision,
                            "\(scope.rawValue) watch: put of \(record.key) at modRevision \(record.modRevision) after a put at \(lastRevision)")
                        lastRevision = record.modRevision
                    }) { $0[sentinel.key] != nil }
                }
                watch.inbox.cancel()
                for round in 0..<3 {
                    for path in ["/w/n\(round)", "/w/new\(round)", "/w/sentinel\(round)"] { try await writer.delete(try Key(path), ifVersion: nil, recursive: true) }
                }
            }
        },
        ConformanceCheck("watch-survives-own-session-expiry", clause: 8, "A subtree watch on a handle whose session expires goes on: the expired session's ephemeral key leaves its state, then it reports another handle's later write and the handle's own ephemeral key of its new session.") { ctx in
            let store = try await ctx.open()
            let other = try await ctx.open()
            let mine = try Key("/w/mine"), kept = try Key("/w/kept"), later = try Key("/w/later"), again = try Key("/w/again")
            _ = try await store.create(mine, value: bytes("old"), mode: .ephemeral)
            let keptRecord = try await store.create(kept, value: bytes("kept"), mode: .persistent)
            let sessions = ctx.sessionEvents(store)
            let watch = ctx.watch(store, try Key("/w"), scope: .subtree)
            _ = try await watch.snapshot()
            try expect(watch.state[mine]?.isEphemeral == true, "the snapshot must hold the ephemeral key")
            try await ctx.harness.expireSession(of: store)
            _ = try await sessions.until(.expired)
            _ = try await sessions.until(.connected)
            try await watch.until("the expired session's ephemeral key to leave the state") { $0[mine] == nil }
            let laterRecord = try await other.create(later, value: bytes("later"), mode: .persistent)
            let againRecord = try await store.create(again, value: bytes("new"), mode: .ephemeral)
            try await watch.until("another handle's write and the new session's ephemeral key") {
                $0[later] == laterRecord && $0[again] == againRecord
            }
            try expectEqual(watch.state[kept], keptRecord, "the persistent key in the watch state")
            try expectEqual(watch.state[mine], nil, "the expired session's ephemeral key in the watch state")
        },
        ConformanceCheck("watch-follows-watched-key-deleted-and-recreated", clause: 8, "In every scope, a watch whose key is deleted recursively and created again by one transaction, with keys beneath it, converges each time to exactly the keys in scope, and still reports a later change one level down.") { ctx in
            let writer = try await ctx.open()
            let watcher = try await ctx.open()
            let folder = try Key("/f")
            let paths = ["/f", "/f/a", "/f/a/b", "/f/a/b/c", "/f/a/b/c/d"]
            for scope in WatchScope.allCases {
                _ = try await writer.create(try Key("/f/old/x"), value: [], mode: .persistent)
                let watch = ctx.watch(watcher, folder, scope: scope)
                _ = try await watch.snapshot()
                try await writer.delete(folder, ifVersion: nil, recursive: true)
                try await watch.until("\(folder) and everything beneath it to go (\(scope.rawValue))") { $0.isEmpty }
                let results = try await writer.transaction(try paths.map { .create(try Key($0), value: bytes($0), mode: .persistent) })
                // Counted here by segments, not with `WatchScope.covers`, which backends use.
                let levels = scope.depthLimit ?? Int.max
                var expected: [Key: Record] = [:]
                for result in results {
                    guard let record = result.createdRecord else { continue }
                    if record.key.path.split(separator: "/").count - 1 <= levels { expected[record.key] = record }
                }
                try await watch.until("the keys in scope created anew (\(scope.rawValue))") { $0 == expected }
                if levels >= 1 {
                    let changed = try await writer.set(try Key("/f/a"), value: bytes("changed"), ifVersion: nil)
                    try await watch.until("a change of /f/a after the key was created anew (\(scope.rawValue))") { $0[changed.key] == changed }
                }
                watch.inbox.cancel()
                try await writer.delete(folder, ifVersion: nil, recursive: true)
            }
        },
        ConformanceCheck("watch-never-reports-a-key-a-transaction-created-and-deleted", clause: 8, "A key that one transaction creates and deletes again (alone, or with a child also created and deleted) never existed for any reader: no watch reports it, in any scope, not even as a put followed by its delete; the transaction's lasting key and later changes are reported.") { ctx in
            let writer = try await ctx.open()
            let watcher = try await ctx.open()
            let folder = try Key("/g"), ghost = try Key("/g/k"), ghostParent = try Key("/g/n"), ghostChild = try Key("/g/n/m")
            let lasting = try Key("/g/lasting")
            _ = try await writer.create(folder, value: [], mode: .persistent)
            let ghosts: Set<Key> = [ghost, ghostParent, ghostChild]
            var watches: [(String, WatchCursor)] = WatchScope.allCases.filter { $0 != .key }.map { ($0.rawValue + " watch of /g", ctx.watch(watcher, folder, scope: $0)) }
            watches += [("key watch of /g/k", ctx.watch(watcher, ghost)), ("key watch of /g/n/m", ctx.watch(watcher, ghostChild))]
            for (_, watch) in watches { _ = try await watch.snapshot() }
            _ = try await writer.transaction([
                .create(ghost, value: bytes("ghost"), mode: .persistent),
                .delete(ghost, ifVersion: nil),
                .create(ghostParent, value: bytes("ghost"), mode: .persistent),
                .create(ghostChild, value: bytes("ghost"), mode: .persistent),
                .delete(ghostChild, ifVersion: nil),
                .delete(ghostParent, ifVersion: nil),
                .create(lasting, value: bytes("lasting"), mode: .persistent),
            ])
            // Later writes, in every watch's scope: once a watch reports them, it has had its chance to report the ghosts.
            let after = try await writer.create(ghost, value: bytes("after"), mode: .persistent)
            let afterChild = try await writer.create(ghostChild, value: bytes("after"), mode: .persistent)
            let expected: [Key: Record] = [ghost: after, ghostChild: afterChild]
            for (label, watch) in watches {
                // A key watch awaits its key's later create; a folder watch that one and the transaction's lasting key.
                let awaited: [Key] = label.hasPrefix("key watch") ? [label.hasSuffix("/g/k") ? ghost : ghostChild] : [ghost, lasting]
                try await watch.until("\(awaited) on the \(label)", inspect: { event, _ in
                    let reported: Key? =
                        switch event {
                        case .put(let record): record.value == bytes("ghost") ? record.key : nil
                        case .delete(let key): ghosts.contains(key) ? key : nil
                        case .snapshot(let records): records.first { $0.value == bytes("ghost") }?.key
                        }
                    if let reported {
                        throw failure("the \(label) reported \(reported), which a transaction created and deleted again: \(event)")
                    }
                }) { state in awaited.allSatisfy { key in expected[key].map { state[key] == $0 } ?? (state[key]?.value == bytes("lasting")) } }
            }
        },
    ]
}

/// `/f`, created by a second handle (the writer), and a watch of it with `scope` on the first,
/// past its snapshot.
private func watchedFolder(_ ctx: CheckContext, scope: WatchScope) async throws -> (writer: any CoordinationStore, folder: Key, watch: WatchCursor) {
    let store = try await ctx.open()
    let writer = try await ctx.open()
    let folder = try Key("/f")
    _ = try await writer.create(folder, value: [], mode: .persistent)
    let watch = ctx.watch(store, folder, scope: scope)
    _ = try await watch.snapshot()
    return (writer, folder, watch)
}

/// Fails as soon as a watch on `folder` whose scope reaches `levels` levels beneath it holds a key
/// it does not cover: a deeper key or one outside the folder. (Counted here, not with
/// `WatchScope.covers`, which backends use: the check must not share what it checks.)
private func rejectingKeys(deeperThan levels: Int, beneath folder: Key, scope: String) -> (WatchEvent, [Key: Record]) throws -> Void {
    { _, state in
        for key in state.keys {
            var ancestor: Key? = key
            var depth = 0
            while let current = ancestor, current != folder, depth <= levels {
                ancestor = current.parent
                depth += 1
            }
            if ancestor != folder || depth > levels { throw failure("a \(scope) watch on \(folder) reported \(key)") }
        }
    }
}
