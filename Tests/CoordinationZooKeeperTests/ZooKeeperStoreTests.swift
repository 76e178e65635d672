import Coordination
@testable import CoordinationZooKeeper
import CoordinationLocalServers
import CoordinationTestSupport
import Testing

@Suite(.enabled(if: ZooKeeperTestEnvironment.runServerTests, ZooKeeperTestEnvironment.skipReason), .serverLoadLimit)
struct ZooKeeperStoreTests {
    /// Under the completion executor's preference a task goes on where the reply arrived (the C
    /// client's completion thread); without it, on the cooperative pool, never there.
    @Test func completionExecutorRunsWhereRepliesArrive() async throws {
        try await ZooKeeperTestEnvironment.withStore { store in
            let key = try Key("/executor/k")
            _ = try await store.create(key, string: "v")
            let inline = try await withTaskExecutorPreference(ZooKeeperStore.completionExecutor) {
                // The first calls leave from a pool thread (see ReplyThreadArrival); every one
                // after a reply resumed the task on the completion thread leaves from there.
                #expect(
                    try await ReplyThreadArrival.reach { _ = try await store.get(key) }, "no reply ever resumed the task on the completion thread")
                var onCompletionThread: [Bool] = []
                for _ in 0..<20 {
                    #expect(try await store.get(key)?.string == "v")
                    onCompletionThread.append(ReplyThread.isCurrent)
                    _ = try await store.set(key, string: "v", ifVersion: nil)
                    onCompletionThread.append(ReplyThread.isCurrent)
                }
                return onCompletionThread
            }
            #expect(inline.allSatisfy { $0 }, "every reply resumed the loop on the completion thread")
            var pooled: [Bool] = []
            for _ in 0..<20 {
                _ = try await store.get(key)
                pooled.append(ReplyThread.isCurrent)
            }
            #expect(!pooled.contains(true), "without the preference the loop never runs on the completion thread")
            // Work that does not follow a reply still runs on the pool under the preference.
            let afterSleep = await withTaskExecutorPreference(ZooKeeperStore.completionExecutor) {
                try? await Task.sleep(for: .milliseconds(5))
                return ReplyThread.isCurrent
            }
            #expect(!afterSleep)
            // Child tasks started on the completion thread run beside it, never inside its job.
            let values = try await withTaskExecutorPreference(ZooKeeperStore.completionExecutor) {
                _ = try await store.get(key)
                return try await withThrowingTaskGroup(of: String?.self) { group in
                    for _ in 0..<8 { group.addTask { try await store.get(key)?.string } }
                    return try await group.reduce(into: []) { $0.append($1) }
                }
            }
            #expect(values == Array(repeating: "v", count: 8))
        }
    }

    @Test func crudWithVersionsAndRevisions() async throws {
        try await ZooKeeperTestEnvironment.withStore { store in
            let key = try Key("/a/b/c")
            let created = try await store.create(key, string: "one")
            #expect(created.version == 0 && created.key == key && !created.isEphemeral)
            #expect(created.createRevision == created.modRevision)
            #expect(try await store.get(key)?.string == "one")
            #expect(try await store.get(try Key("/a"))?.value == [])  // ancestors made empty
            let updated = try await store.set(key, string: "two", ifVersion: 0)
            #expect(updated.version == 1 && updated.modRevision > created.modRevision)
            #expect(updated.createRevision == created.createRevision)
            await #expect(throws: CoordinationError.self) { try await store.set(key, string: "x", ifVersion: 0) }
            do {
                _ = try await store.set(key, string: "x", ifVersion: 7)
                Issue.record("a stale version must conflict")
            } catch let error as CoordinationError {
                #expect(error.code == .versionConflict)
                #expect(error.backendDetail?.contains("ZBADVERSION") == true)
            }
            do {
                _ = try await store.create(key, string: "again")
                Issue.record("creating twice must fail")
            } catch let error as CoordinationError {
                #expect(error.code == .nodeExists && error.key == key)
            }
            do {
                try await store.delete(try Key("/a"))
                Issue.record("deleting a parent must fail")
            } catch let error as CoordinationError {
                #expect(error.code == .notEmpty)
            }
            try await store.delete(key, ifVersion: 1)
            #expect(try await store.get(key) == nil)
            #expect(try await store.exists(.root))
            await #expect(throws: CoordinationError.self) { _ = try await store.get(.root) }
        }
    }

    @Test func treeChildrenWalkAndRecursiveDelete() async throws {
        try await ZooKeeperTestEnvironment.withStore { store in
            for path in ["/t/b", "/t/a/x", "/t/a/y", "/t/B", "/t/é"] {
                _ = try await store.create(try Key(path), string: path)
            }
            #expect(try await store.children(of: try Key("/t")) == ["B", "a", "b", "é"])
            #expect(try await store.children(of: .root) == ["t"])
            let walked = try await store.records(under: try Key("/t")).map(\.key.path)
            #expect(walked == ["/t", "/t/B", "/t/a", "/t/a/x", "/t/a/y", "/t/b", "/t/é"])
            try await store.delete(try Key("/t"), ifVersion: nil, recursive: true)
            #expect(try await store.exists(try Key("/t")) == false)
            do {
                _ = try await store.children(of: try Key("/t"))
                Issue.record("children of a missing key must fail")
            } catch let error as CoordinationError {
                #expect(error.code == .noNode)
            }
            _ = try await store.create(try Key("/u/v"))
            try await store.delete(.root, ifVersion: nil, recursive: true)
            #expect(try await store.children(of: .root) == [])
        }
    }

    /// Znodes another client wrote that no key can name are passed over by every read, as on
    /// etcd, and listed by `foreignKeys(under:)`, each on its own. The server itself refuses the
    /// characters keys refuse (control, private-use, non-BMP), so what is left is a segment over the
    /// length limit, a whole key over it, and `/zookeeper` at the top of a namespace; and any
    /// znode beneath those, however valid its own name. A recursive delete removes them.
    @Test func foreignZnodesAreSkippedByReadsAndListed() async throws {
        try await PythonScript.require("kazoo", install: Kazoo.install)
        try await ZooKeeperTestEnvironment.withStore { store in
            let long = String(repeating: "l", count: CoordinationLimits.maxKeyBytes)  // `/` + it is over the limit
            let dir = String(repeating: "d", count: 1_000), tail = String(repeating: "t", count: 100)
            _ = try await store.create(try Key("/f/ok/x"), value: [1])
            _ = try await store.create(try Key("/f/\(dir)"), value: [2])
            let written = ["/f/\(long)/ok", "/f/\(dir)/\(tail)", "/zookeeper/x"]
            let foreign = ["/f/\(dir)/\(tail)", "/f/\(long)", "/f/\(long)/ok", "/zookeeper", "/zookeeper/x"]
            let raw = store.namespace.path
            _ = try await Kazoo.run("write", Dictionary(uniqueKeysWithValues: written.map { (raw + $0, "") }))
            do {
                #expect(try await store.children(of: .root) == ["f"])
                #expect(try await store.children(of: try Key("/f")) == [dir, "ok"])
                #expect(try await store.children(of: try Key("/f/\(dir)")) == [])
                let valid = ["/f", "/f/\(dir)", "/f/ok", "/f/ok/x"]
                #expect(try await store.records(under: .root).map(\.key.path) == valid)
                #expect(try await store.records(under: try Key("/f")).map(\.key.path) == valid)
                var events = store.watch(.root, scope: .subtree).makeAsyncIterator()
                #expect(try await events.next() == .snapshot(try await store.records(under: .root)))

                #expect(try await store.foreignKeys(under: .root) == foreign, "sorted by bytes, as etcd lists them")
                #expect(try await store.foreignKeys(under: try Key("/f")) == Array(foreign.prefix(3)))
                #expect(try await store.foreignKeys(under: try Key("/f/\(dir)")) == ["/f/\(dir)/\(tail)"])
                #expect(try await store.foreignKeys(under: try Key("/f/ok")) == [])
                #expect(try await store.foreignKeys(under: try Key("/missing")) == [])

                // A recursive delete removes them too, as etcd's range delete does: nothing else could.
                try await store.delete(try Key("/f"), ifVersion: nil, recursive: true)
                #expect(try await store.foreignKeys(under: .root) == ["/zookeeper", "/zookeeper/x"])
                try await store.delete(.root, ifVersion: nil, recursive: true)
                #expect(try await store.foreignKeys(under: .root) == [])
            } catch {
                _ = try? await Kazoo.run("delete", foreign.map { raw + $0 })
                throw error
            }
        }
    }

    @Test func sequentialAndEphemeral() async throws {
        try await ZooKeeperTestEnvironment.withStore { store in
            let first = try await store.create(try Key("/q/item-"), value: [1], mode: .sequential)
            let second = try await store.create(try Key("/q/item-"), value: [2], mode: .ephemeralSequential)
            #expect(first.key.name.count == "item-".count + 10)
            #expect(first.key.name.hasPrefix("item-") && second.key.name > first.key.name)
            #expect(second.isEphemeral && !first.isEphemeral)
            let owner = try await store.create(try Key("/e"), mode: .ephemeral)
            #expect(owner.isEphemeral)
            do {
                _ = try await store.create(try Key("/e/child"))
                Issue.record("an ephemeral key cannot have children")
            } catch let error as CoordinationError {
                #expect(error.code == .ephemeralChildren)
            }
        }
    }

    @Test func transactionsApplyAllOrNothing() async throws {
        try await ZooKeeperTestEnvironment.withStore { store in
            _ = try await store.create(try Key("/x"), string: "0")
            let results = try await store.transaction([
                .check(try Key("/x"), version: 0),
                .create(try Key("/x/seq-"), value: [7], mode: .sequential),
                .set(try Key("/x"), value: [1], ifVersion: 0),
            ])
            guard case .created(let created) = results[1], case .set(let set) = results[2] else {
                Issue.record("unexpected results \(results)")
                return
            }
            #expect(created.key.name.hasPrefix("seq-") && created.key.name.count == 14)
            #expect(created.createRevision == set.modRevision && set.version == 1)
            let stored = try await store.get(created.key)
            #expect(stored?.createRevision == created.createRevision)

            // Creates only: the revision still comes back.
            let onlyCreates = try await store.transaction([.create(try Key("/y"), value: [], mode: .persistent)])
            guard case .created(let y) = onlyCreates[0] else { Issue.record("no record"); return }
            #expect(try await store.get(try Key("/y"))?.createRevision == y.createRevision)

            do {
                _ = try await store.transaction([
                    .create(try Key("/z"), value: [], mode: .persistent),
                    .set(try Key("/x"), value: [2], ifVersion: 0),
                    .delete(try Key("/y"), ifVersion: nil),
                ])
                Issue.record("a stale version must fail the transaction")
            } catch let error as CoordinationError {
                #expect(error.code == .versionConflict && error.failedOperation == 1)
            }
            #expect(try await store.exists(try Key("/z")) == false)
            do {
                _ = try await store.transaction([.create(try Key("/missing/child"), value: [], mode: .persistent)])
                Issue.record("a transaction create never makes ancestors")
            } catch let error as CoordinationError {
                #expect(error.code == .noNode && error.failedOperation == 0)
            }
            let tooMany = (0...CoordinationLimits.maxTransactionOperations).map { _ in Operation.check(.root, version: nil) }
            do {
                _ = try await store.transaction(tooMany)
                Issue.record("too many operations must be refused")
            } catch let error as CoordinationError {
                #expect(error.code == .transactionTooLarge)
            }
        }
    }

    @Test func watchSubtreeConverges() async throws {
        try await ZooKeeperTestEnvironment.withStore { store in
            _ = try await store.create(try Key("/w/a"), string: "1")
            var state: [Key: Record] = [:]
            var iterator = store.watch(try Key("/w"), scope: .subtree).makeAsyncIterator()
            let first = try await iterator.next()
            guard case .snapshot(let records) = first else { Issue.record("expected a snapshot, got \(String(describing: first))"); return }
            #expect(records.map(\.key.path) == ["/w", "/w/a"])
            state.apply(first!)
            _ = try await store.set(try Key("/w/a"), string: "2")
            _ = try await store.create(try Key("/w/b/c"), string: "3")
            try await store.delete(try Key("/w/a"))
            let expected = Set(try await store.records(under: try Key("/w")))
            while Set(state.values) != expected {
                guard let event = try await iterator.next() else { break }
                state.apply(event)
            }
            #expect(Set(state.values) == expected)
            let gone = try Key("/w/a"), added = try Key("/w/b/c")
            #expect(state[gone] == nil && state[added]?.string == "3")
        }
    }

    @Test func watchedKeyReportsPutsAndDeletes() async throws {
        try await ZooKeeperTestEnvironment.withStore { store in
            let key = try Key("/k")
            var iterator = store.watch(key).makeAsyncIterator()
            #expect(try await iterator.next() == .snapshot([]))
            let created = try await store.create(key, string: "v")
            #expect(try await iterator.next() == .put(created))
            try await store.delete(key)
            #expect(try await iterator.next() == .delete(key))
        }
    }

    /// Opening and cancelling watches in a loop, as a lock waiter or a short-lived view does on a
    /// long-lived handle, must not leave anything behind per watch: the handle once kept every
    /// watch's trigger until it closed (and pushed a resync into each on every reconnect).
    @Test func cancelledWatchesLeaveNoTriggersBehind() async throws {
        try await ZooKeeperTestEnvironment.withStore { store in
            let key = try Key("/churn/k")
            _ = try await store.create(key, string: "v")
            for round in 0..<50 {
                let scope: WatchScope = round.isMultiple(of: 2) ? .key : .subtree
                let watching = Task {
                    var iterator = store.watch(scope == .key ? key : key.parent!, scope: scope).makeAsyncIterator()
                    _ = try await iterator.next()
                    // Waits for events until cancelled.
                    while try await iterator.next() != nil {}
                }
                // A change fires a watch set by this stream after it is gone: the C client then
                // calls back with a context no live stream owns.
                _ = try await store.set(key, string: "\(round)")
                watching.cancel()
                _ = await watching.result
            }
            // The last stream's teardown runs after its cancellation; nothing signals its end.
            _ = try await withDeadline("every cancelled watch's trigger to be let go") {
                while store.connection.watchTriggerCount > 0 { try await Task.sleep(for: .milliseconds(20)) }
                return true
            }
            // The handle still watches well afterwards.
            var iterator = store.watch(key).makeAsyncIterator()
            _ = try await iterator.next()
            let changed = try await store.set(key, string: "after")
            #expect(try await iterator.next() == .put(changed))
        }
    }

    /// The C client keeps a one-shot watch (by path and context) until it fires: a stream that
    /// ended on a key that never changes left an entry there for good, one more per stream.
    @Test func anEndedWatchLeavesNoWatchInTheClient() async throws {
        try await ZooKeeperTestEnvironment.withStore { store in
            let folder = try Key("/stable"), key = try Key("/stable/k")
            _ = try await store.create(key, string: "v")
            for scope in [WatchScope.key, .subtree] {
                let watched = scope == .key ? key : folder
                let before = Set(store.connection.watchTriggerIDs)
                let (opened, tell) = AsyncStream<UInt>.makeStream()
                let watching = Task {
                    var iterator = store.watch(watched, scope: scope).makeAsyncIterator()
                    _ = try await iterator.next()
                    tell.yield(Set(store.connection.watchTriggerIDs).subtracting(before).first ?? 0)
                    while try await iterator.next() != nil {}
                }
                var ids = opened.makeAsyncIterator()
                let id = try #require(await ids.next())
                #expect(id != 0, "the watch's trigger is registered while it runs")
                watching.cancel()
                _ = await watching.result
                // Its loop forgets its watches when it ends, then lets its trigger go.
                _ = try await withDeadline("the cancelled watch to end") {
                    while store.connection.watchTriggerIDs.contains(id) { try await Task.sleep(for: .milliseconds(20)) }
                    return true
                }
                for znode in [folder, key] where scope == .subtree || znode == key {
                    #expect(!store.connection.clientHoldsWatch(on: store.znode(znode), triggerID: id), "\(scope) watch left on \(znode)")
                }
            }
        }
    }

    /// An ended stream forgets only its own watches in the C client: another stream of the handle
    /// watching the same znodes goes on hearing of their changes.
    @Test func anEndedWatchLeavesAnotherStreamsWatchesOnTheSameZnodes() async throws {
        try await ZooKeeperTestEnvironment.withStore { store in
            let folder = try Key("/shared"), key = try Key("/shared/k")
            _ = try await store.create(key, string: "v")
            var staying = store.watch(key).makeAsyncIterator()
            _ = try await staying.next()
            let ids = store.connection.watchTriggerIDs
            let leaving = Task {
                var iterator = store.watch(folder, scope: .subtree).makeAsyncIterator()
                _ = try await iterator.next()
                while try await iterator.next() != nil {}
            }
            _ = try await withDeadline("the second watch to start") {
                while store.connection.watchTriggerIDs.count < 2 { try await Task.sleep(for: .milliseconds(20)) }
                return true
            }
            leaving.cancel()
            _ = await leaving.result
            _ = try await withDeadline("the second watch to end") {
                while store.connection.watchTriggerIDs.count > 1 { try await Task.sleep(for: .milliseconds(20)) }
                return true
            }
            #expect(store.connection.watchTriggerIDs == ids)
            let changed = try await store.set(key, string: "changed")
            #expect(try await staying.next() == .put(changed))
        }
    }

    @Test func closingEndsStreamsWithUnavailable() async throws {
        let store = try await ZooKeeperTestEnvironment.openStore(namespace: ZooKeeperTestEnvironment.uniqueNamespace())
        var iterator = store.watch(.root, scope: .subtree).makeAsyncIterator()
        _ = try await iterator.next()
        let sessions = store.sessionEvents()
        try await store.delete(.root, ifVersion: nil, recursive: true)
        await ZooKeeperTestEnvironment.cleanUp(store.namespace)
        await store.close()
        do {
            while try await iterator.next() != nil {}
            Issue.record("the watch must end with an error")
        } catch let error as CoordinationError {
            #expect(error.code == .unavailable)
        }
        var last: SessionState?
        for await event in sessions { last = event.state }
        #expect(last == .closed)
        await #expect(throws: CoordinationError.self) { _ = try await store.get(try Key("/a")) }
    }

    /// A close that finds another one under way returns when that one has released the handle,
    /// not at once: after any close a caller may count on the session being over and every call
    /// made before it answered, whichever of two closes (a `defer` and an explicit one) came first.
    @Test func aSecondCloseWaitsForTheFirst() async throws {
        let relay = try TCPRelay(upstreams: ZooKeeperTestEnvironment.hosts) { false }
        defer { relay.stop() }
        let store = try await ZooKeeperTestEnvironment.openStore(namespace: .root, hosts: [relay.address])
        let events = store.sessionEvents()
        // A slow link: the first close waits for the server's answer to its close request.
        relay.delayReplies(by: .seconds(1))
        let first = Task { await store.close() }
        _ = try await firstElement("closed from the first close", of: events) { $0.state == .closed }
        await store.close()
        #expect(store.connection.isReleased, "the second close returned while the first still waited for the server")
        await first.value
        #expect(store.connection.isReleased)
    }

    @Test func forcedExpiryStartsANewSession() async throws {
        try await ZooKeeperTestEnvironment.withStore(relayed: true) { store in
            let ephemeral = try await store.create(try Key("/mine"), mode: .ephemeral)
            #expect(ephemeral.isEphemeral)
            let before = store.session
            #expect(before.state == .connected)
            let events = store.sessionEvents()
            try await ZooKeeperSessionDrill.expire(store)
            let renewed = try await firstElement("new session after the expiry", of: events) { $0.state == .connected && $0.sessionID != before.sessionID }
            #expect(renewed.ttl > .zero)
            #expect(try await store.exists(try Key("/mine")) == false)
            _ = try await store.create(try Key("/mine"), mode: .ephemeral)  // the new session works
        }
    }

    /// The new session after an expiry comes even when the C client cannot make its handle at
    /// first (it refuses one when no host name resolves, a DNS outage at that moment): the store
    /// was left without a handle for good, every call failing `sessionExpired` until it was closed.
    @Test func aNewSessionComesAfterTheHandleCouldNotBeMadeAtFirst() async throws {
        try await ZooKeeperTestEnvironment.withStore(relayed: true) { store in
            let before = store.session
            let events = store.sessionEvents()
            store.connection.refuseNextHandles(2)
            try await ZooKeeperSessionDrill.expire(store)
            _ = try await firstElement("new session after the expiry", of: events) { $0.state == .connected && $0.sessionID != before.sessionID }
            #expect(store.connection.refusedHandlesPending == 0, "the handles the test refused were not asked for")
            _ = try await store.create(try Key("/mine"), mode: .ephemeral)  // the new session works
        }
    }

    @Test func unreachableServerFailsToOpenWithUnavailable() async throws {
        let started = ContinuousClock.now
        do {
            // Nothing listens on this port of the tests' range.
            _ = try await ZooKeeperTestEnvironment.openStore(namespace: .root, hosts: ["127.0.0.1:22999"], sessionTimeout: .seconds(2))
            Issue.record("opening a store on a dead port must fail")
        } catch let error as CoordinationError {
            #expect(error.code == .unavailable)
            // Said as soon as the host refuses, naming it, rather than after the session timeout.
            #expect(error.message.contains("127.0.0.1:22999: connection refused"), "\(error.message)")
        }
        // A bound on giving up at all (not a speed figure): opening must not wait forever.
        #expect(ContinuousClock.now - started < .seconds(60))
    }

    /// A host name that does not resolve (yet) is a store out of reach, which a service waits
    /// for, not a malformed connect string.
    @Test func anUnresolvableHostIsUnavailable() async throws {
        do {
            _ = try await ZooKeeperTestEnvironment.openStore(namespace: .root, hosts: ["no-such-host.invalid:2181"], sessionTimeout: .seconds(2))
            Issue.record("opening a store on a name that does not resolve must fail")
        } catch let error as CoordinationError {
            #expect(error.code == .unavailable)
            #expect(error.message.contains("no-such-host.invalid:2181: no-such-host.invalid does not resolve"), "\(error.message)")
        }
    }

    /// A host that accepts connections may yet give a session: opening waits the whole timeout.
    @Test func aHostThatAcceptsButGivesNoSessionIsWaitedFor() async throws {
        // Accepts every connection, then hangs up: the upstream is a dead port.
        let relay = try TCPRelay(upstreams: ["127.0.0.1:22999"]) { false }
        defer { relay.stop() }
        do {
            _ = try await ZooKeeperTestEnvironment.openStore(namespace: .root, hosts: [relay.address], sessionTimeout: .seconds(2))
            Issue.record("opening a store without a server must fail")
        } catch let error as CoordinationError {
            #expect(error.code == .unavailable)
            // It says what the host did, not "is the server running?" of one that took the connection.
            #expect(
                error.message.contains("no ZooKeeper session with \(relay.address) within 2s; \(relay.address) accepted the connection but closed it without a word"),
                "\(error.message)")
        }
    }

    @Test(arguments: [
        ("127.0.0.1:2181", "127.0.0.1", "2181"), ("zk1", "zk1", "2181"), ("[::1]:2182", "::1", "2182"), ("[::1]", "::1", "2181"),
    ])
    func hostProbeSplitsAddresses(address: String, host: String, port: String) {
        let split = HostProbe.split(address)
        #expect(split.host == host && split.port == port)
    }

    /// A session timeout past 12.4 days made the C client time out every connection attempt at
    /// once (it computes 2 × timeout in 32-bit milliseconds): opening hung with the server up. One
    /// under a second never got a session, and was reported as a server that is not running. Both
    /// are refused by name before connecting; the longest allowed opens, clamped by the server.
    @Test func sessionTimeoutsOutsideTheRangeAreRefusedAndTheLongestOpens() async throws {
        let hosts = ZooKeeperTestEnvironment.hosts.joined(separator: ",")
        for query in ["sessionTimeout=20d", "sessionTimeout=30d", "ttl=1000d", "ttl=1ms"] {
            let error = await #expect(throws: CoordinationError.self, "\(query)") {
                _ = try await withDeadline("opening with \(query)", limit: .seconds(10)) {
                    try await StoreRegistry([.zookeeper]).open("zookeeper://\(hosts)/ns?\(query)", logger: ZooKeeperTestEnvironment.logger)
                }
            }
            #expect(error?.code == .invalidConfiguration, "\(query): \(String(describing: error))")
            #expect(error?.message.contains("\(query) is outside the session TTLs every backend accepts, 1s to 1d") == true, "\(error?.message ?? "")")
        }
        for (timeout, text) in [(Duration.seconds(24 * 86_400), "24d"), (.milliseconds(1), "1ms")] {
            let error = await #expect(throws: CoordinationError.self, "\(text)") {
                _ = try await withDeadline("opening with \(text)", limit: .seconds(10)) {
                    try await ZooKeeperTestEnvironment.openStore(namespace: .root, sessionTimeout: timeout)
                }
            }
            #expect(error?.code == .invalidConfiguration)
            #expect(error?.message.hasPrefix("session TTL \(text) is outside the session TTLs every backend accepts") == true, "\(error?.message ?? "")")
        }
        let namespace = ZooKeeperTestEnvironment.uniqueNamespace()
        let store = try await withDeadline("opening with a 1-day session timeout", limit: .seconds(20)) {
            try await ZooKeeperTestEnvironment.openStore(namespace: namespace, sessionTimeout: .seconds(86_400))
        }
        #expect(store.session.state == .connected)
        #expect(store.session.ttl < .seconds(86_400), "the server clamps the timeout to its maxSessionTimeout: \(store.session.ttl)")
        _ = try await store.create(try Key("/k"), string: "v")
        await ZooKeeperTestEnvironment.cleanUp(namespace)
        await store.close()
    }

    /// A host without a port used to be refused by the C client in words of its own.
    @Test func aHostWithoutPortUsesTheClientPort() async throws {
        let defaultHost = try #require(ZooKeeperTestEnvironment.hosts.first { $0.hasSuffix(":2181") }, "needs a server on port 2181")
        let namespace = ZooKeeperTestEnvironment.uniqueNamespace()
        let url = "zookeeper://\(defaultHost.dropLast(":2181".count))\(namespace.path)"
        let store = try await StoreRegistry([.zookeeper]).open(url, logger: ZooKeeperTestEnvironment.logger)
        #expect(try await store.children(of: .root) == [])
        await ZooKeeperTestEnvironment.cleanUp(namespace)
        await store.close()
    }

    @Test func storeURLOpensThroughTheRegistry() async throws {
        let namespace = ZooKeeperTestEnvironment.uniqueNamespace()
        let url = "zookeeper://\(ZooKeeperTestEnvironment.hosts.joined(separator: ","))\(namespace.path)?sessionTimeout=4s"
        let store = try await StoreRegistry([.zookeeper]).open(url, logger: ZooKeeperTestEnvironment.logger)
        #expect(store.namespace == namespace)
        #expect(try await store.children(of: .root) == [])
        await ZooKeeperTestEnvironment.cleanUp(namespace)
        await store.close()
        await #expect(throws: CoordinationError.self) {
            _ = try await StoreRegistry([.zookeeper]).open("zookeeper://127.0.0.1:2181/x?bogus=1", logger: ZooKeeperTestEnvironment.logger)
        }
    }
}
