import Coordination
@testable import CoordinationEtcd
import Foundation
import Logging
import CoordinationLocalServers
import CoordinationTestSupport
import Testing

/// Situations only a server of our own can produce: compaction, restarts, a leader killed, auth,
/// TLS. Each test starts its etcd (ports 23000-23999, data under /tmp) and stops it at the end.
@Suite(.serialized, .serverLoadLimit, .etcdBinary)
struct EtcdServerTests {
    let namespace = SharedEtcd.uniqueNamespace("servertest")

    func open(_ cluster: EtcdCluster, ttl: Duration = .seconds(10), user: String? = nil, password: String? = nil) async throws -> EtcdStore {
        try await EtcdStore(
            endpoints: cluster.endpoints, namespace: namespace, ttl: ttl, user: user, password: password,
            requestTimeout: .seconds(5), logger: Logger(label: "test.etcd.server"))
    }

    @Test func compactionWhileAWatchIsDisconnectedResyncsWithASnapshot() async throws {
        try await EtcdCluster.with { cluster in
            let store = try await open(cluster)
            let root = try Key("/c")
            _ = try await store.create(root, value: [], mode: .persistent)
            _ = try await store.create(try root.child("old"), value: [1], mode: .persistent)
            var events = store.watch(root, scope: .subtree).makeAsyncIterator()
            var state: [Key: Record] = [:]
            state.apply(try await next(&events, "the first snapshot"))

            store.pauseWatches(true)
            for index in 0..<5 { _ = try await store.create(try root.child("k\(index)"), value: [UInt8(index)], mode: .persistent) }
            _ = try await store.set(try root.child("k1"), value: [9], ifVersion: 0)
            try await store.delete(try root.child("old"), ifVersion: nil, recursive: false)
            let revision = try #require(try await store.get(try root.child("k1"))).modRevision + 1
            try await cluster.admin.compact(to: revision)
            store.pauseWatches(false)

            let expected = Dictionary(uniqueKeysWithValues: try await store.records(under: root).map { ($0.key, $0) })
            var resynced = false
            while state != expected {
                let event = try await next(&events, "convergence after the compaction")
                if case .snapshot = event { resynced = true }
                state.apply(event)
            }
            #expect(resynced, "events before the compacted revision are gone: the stream must resync with a snapshot")
            // And it keeps following after the resync.
            let later = try await store.create(try root.child("later"), value: [7], mode: .persistent)
            #expect(try await next(&events, "a write after the resync") == .put(later))
            await store.close()
        }
    }

    /// A full database (etcd's NOSPACE alarm, which refuses every write but deletes) is named with
    /// its remedy; reads and deletes go on meanwhile, and the remedy the message gives makes writes
    /// work again.
    @Test func aFullDatabaseIsNamedWithWhatFreesIt() async throws {
        try await EtcdCluster.with(arguments: ["--quota-backend-bytes", "1048576"]) { cluster in
            let store = try await open(cluster)
            let root = try Key("/full")
            let (written, error) = try await fillUntilFull(store, under: root)
            #expect(error.code == .unavailable)
            #expect(error.message.contains("space quota") && error.message.contains("--auto-compaction-retention"), "\(error.message)")
            #expect(error.message.contains("if the keys themselves fill it, delete some first"), "compacting frees only history: \(error.message)")
            #expect(error.backendDetail?.contains("database space exceeded") == true)
            #expect(try await store.get(try root.child("k0"))?.value == Self.filler, "reads go on")
            try await freeSpace(of: cluster, deleting: written, under: root, with: store)
            _ = try await store.create(try root.child("again"), value: [1], mode: .persistent)
            #expect(try await store.get(try root.child("again"))?.value == [1], "writes work again once space is freed")
            await store.close()
        }
    }

    /// A full database refuses new leases too. A handle opened meanwhile fails at once, saying
    /// that it cannot have its session and why: a caller who only meant to read would not
    /// otherwise see why a full database concerns it. A handle whose session ends meanwhile says
    /// why no new one comes at its next ephemeral write, and has one once space is freed.
    @Test func aFullDatabaseRefusesNewSessionsAndSaysSo() async throws {
        try await EtcdCluster.with(arguments: ["--quota-backend-bytes", "1048576"]) { cluster in
            let store = try await open(cluster, ttl: .seconds(5))
            let root = try Key("/full")
            let (written, _) = try await fillUntilFull(store, under: root)

            let opening = await #expect(throws: CoordinationError.self) { _ = try await open(cluster) }
            #expect(opening?.code == .unavailable)
            #expect(opening?.message.hasPrefix("cannot open a session on etcd") == true, "\(String(describing: opening))")
            #expect(opening?.message.contains("database is full") == true, "\(String(describing: opening))")

            var events = store.sessionEvents().makeAsyncIterator()
            let before = try await next(&events, "the current session")
            #expect(before.state == .connected, "\(before)")
            try await cluster.admin.revoke(lease: try #require(store.leaseID))
            // A keep-alive late on a loaded machine may report `suspended` (and `reconnected`) first.
            var expired = try await next(&events, "the revoked session's expiry")
            while expired.state == .suspended || expired.state == .reconnected { expired = try await next(&events, "the revoked session's expiry") }
            #expect(expired.state == .expired, "\(expired)")
            let mine = try root.child("mine")
            let refused = await #expect(throws: CoordinationError.self) { _ = try await store.create(mine, value: [], mode: .ephemeral) }
            #expect(refused?.code == .unavailable, "\(String(describing: refused))")
            #expect(
                refused?.message.contains("the session expired, and etcd refuses a new session: etcd's database is full") == true,
                "\(String(describing: refused))")

            try await freeSpace(of: cluster, deleting: written, under: root, with: store)
            let renewed = try await next(&events, "a new session once space is freed")
            #expect(renewed.state == .connected && renewed.sessionID != before.sessionID, "\(renewed)")
            #expect(try await store.create(mine, value: [], mode: .ephemeral).ownerSession == renewed.sessionID)
            await store.close()
        }
    }

    /// Writes 200 kB values under `root` until etcd's 1 MiB quota refuses one.
    private func fillUntilFull(_ store: EtcdStore, under root: Key) async throws -> (written: Int, refusal: CoordinationError) {
        _ = try await store.create(root, value: [], mode: .persistent)
        for written in 0..<50 {
            do {
                _ = try await store.create(try root.child("k\(written)"), value: Self.filler, mode: .persistent)
            } catch let error as CoordinationError {
                return (written, error)
            }
        }
        return try #require(nil, "a 1 MiB quota must fill within 50 writes of 200 kB")
    }

    private static let filler = [UInt8](repeating: 7, count: 200_000)

    /// The remedy a full database's message names (compact, defragment, disarm), after deleting
    /// the `written` values ``fillUntilFull(_:under:)`` left. Kept, they would hold the database
    /// near its quota after the defragmentation, and the next write (a lease grant too) could
    /// raise the alarm again.
    private func freeSpace(of cluster: EtcdCluster, deleting written: Int, under root: Key, with store: EtcdStore) async throws {
        for index in 0..<written { try await store.delete(try root.child("k\(index)"), ifVersion: nil, recursive: false) }
        let admin = cluster.admin
        let alarms = try await admin.call("/v3/maintenance/alarm", ["action": "GET"])
        // A uint64, often past Int64.max: passed back as the string the gateway gave.
        let member = try #require(alarms["alarms"]?.arrayValue.first?["memberID"]?.stringValue, "the NOSPACE alarm is raised")
        let revision = try #require(try await admin.call("/v3/kv/range", EtcdRequest.range(Array("x".utf8)))["header"]?["revision"]?.int64Value)
        try await admin.compact(to: revision)
        _ = try await admin.call("/v3/maintenance/defragment", [:])
        _ = try await admin.call("/v3/maintenance/alarm", ["action": "DEACTIVATE", "memberID": .string(member), "alarm": "NOSPACE"])
    }

    /// An etcd run with its JSON gateway off (`--enable-grpc-gateway=false`) answers the gateway's
    /// paths with Go's bare 404 page. That was named as a wrong port; it names the flag first now.
    @Test func anEtcdWithItsGatewayOffNamesTheFlagThatTurnsItOn() async throws {
        let cluster = EtcdCluster(size: 1, extraArguments: ["--enable-grpc-gateway=false"])
        defer { cluster.stopAll() }
        for member in cluster.members { try await cluster.start(member) }
        // The usual readiness probe asks the gateway; any HTTP answer will do (a POST to /health is a 405).
        try await cluster.waitUntilServing { member in await LoopbackHTTP.post(port: member.clientPort, path: "/health", body: "{}") != nil }
        let error = try #require(try await EtcdWrongServerTests.openingError(cluster.endpoints))
        #expect(error.code == .unavailable, "\(error)")
        #expect(error.message.hasPrefix("http://\(cluster.endpoints[0]) answered HTTP 404 with \"404 page not found\""), "\(error.message)")
        #expect(error.message.contains("an etcd with its JSON gateway off answers so (start it with --enable-grpc-gateway"), "\(error.message)")
        #expect(error.message.contains("etcd's client port is usually 2379"), "the port may still be wrong: \(error.message)")
    }

    /// A learner (a member added with `member add --learner`, catching up before it may vote)
    /// refuses every client request but a status call, before applying anything. Listed first, it
    /// made every coord command fail, though a voting member came next: a store opened on such
    /// endpoints now passes over it, for writes too, and one given the learner alone names it.
    @Test func aLearnerAmongTheEndpointsIsPassedOverAndNamedWhenAlone() async throws {
        let cluster = EtcdCluster(size: 2, founders: 1)
        defer { cluster.stopAll() }
        let (voter, learner) = (cluster.members[0], cluster.members[1])
        try await cluster.start(voter)
        try await cluster.waitUntilHealthy()
        _ = try await cluster.admin.call(
            "/v3/cluster/member/add", ["peerURLs": .array([.string("http://127.0.0.1:\(learner.peerPort)")]), "isLearner": true])
        try await cluster.start(learner)
        try await cluster.waitUntilServing()  // a learner answers the default probe, a status call
        let learnerFirst = ["127.0.0.1:\(learner.clientPort)", "127.0.0.1:\(voter.clientPort)"]

        let store = try await EtcdStore(
            endpoints: learnerFirst, namespace: namespace, ttl: .seconds(10), requestTimeout: .seconds(5),
            logger: Logger(label: "test.etcd.server"))
        var events = store.watch(try Key("/l"), scope: .subtree).makeAsyncIterator()
        #expect(try await next(&events, "the watch's snapshot") == WatchEvent.snapshot([]))
        let persistent = try await store.create(try Key("/l"), value: [1], mode: .persistent)
        #expect(try await next(&events, "the create") == WatchEvent.put(persistent))
        let ephemeral = try await store.create(try Key("/l/e"), value: [2], mode: .ephemeral)
        #expect(ephemeral.ownerSession == store.session.sessionID)
        _ = try await store.transaction([.check(try Key("/l"), version: 0), .set(try Key("/l"), value: [3], ifVersion: nil)])
        #expect(try await store.get(try Key("/l"))?.value == [3])
        await store.close()

        let error = try #require(try await EtcdWrongServerTests.openingError([learnerFirst[0]]))
        #expect(error.code == .unavailable, "\(error)")
        #expect(error.message.contains("refused the request: it is a learner"), "\(error.message)")
        #expect(error.message.contains("give coord the cluster's voting members"), "\(error.message)")
    }

    /// A server whose txn limit (--max-txn-ops) is below the default refuses a transaction
    /// within the portable limit (`coord job add` of a sharded job did so, with etcd's bare
    /// words): the error names the server setting and its fix, and nothing is written.
    @Test func aServerTxnLimitBelowTheDefaultIsNamedWithItsFix() async throws {
        try await EtcdCluster.with(arguments: ["--max-txn-ops", "8"]) { cluster in
            let store = try await open(cluster)
            let keys = try (0..<10).map { try Key("/ops/k\($0)") }
            _ = try await store.create(try Key("/ops"), value: [], mode: .persistent)
            let refused = await #expect(throws: CoordinationError.self) {
                _ = try await store.transaction(keys.map { .create($0, value: [1], mode: .persistent) })
            }
            #expect(refused?.code == .transactionTooLarge, "\(String(describing: refused))")
            #expect(refused?.message.contains("raise --max-txn-ops on every etcd member to at least 128") == true, "\(String(describing: refused))")
            #expect(try await store.children(of: try Key("/ops")).isEmpty, "nothing was written")
            _ = try await store.transaction(keys.prefix(2).map { .create($0, value: [1], mode: .persistent) })
            #expect(try await store.children(of: try Key("/ops")).count == 2, "smaller transactions go on")
            await store.close()
        }
    }

    /// A server whose request limit (--max-request-bytes) is below the portable limits refuses
    /// a value the other backends take: the error names the server setting and its fix, and
    /// leaves nothing written.
    @Test func aServerRequestLimitBelowThePortableOneIsNamedWithItsFix() async throws {
        try await EtcdCluster.with(arguments: ["--max-request-bytes", "100000"]) { cluster in
            let store = try await open(cluster)
            let key = try Key("/big")
            // etcd refuses the first; gRPC refuses the second (over the limit plus 512 KiB) before etcd sees it.
            for size in [200_000, 900_000] {
                let refused = await #expect(throws: CoordinationError.self) {
                    _ = try await store.create(key, value: [UInt8](repeating: 7, count: size), mode: .persistent)
                }
                #expect(refused?.code == .transactionTooLarge, "\(size): \(String(describing: refused))")
                #expect(refused?.message.contains("raise --max-request-bytes on every etcd member") == true, "\(size): \(String(describing: refused))")
                #expect(try await store.get(key) == nil, "nothing was written")
            }
            _ = try await store.create(key, value: [1], mode: .persistent)
            #expect(try await store.get(key)?.value == [1], "smaller writes go on")
            await store.close()
        }
    }

    @Test func restartedEtcdLosesNoWatchEvent() async throws {
        try await EtcdCluster.with { cluster in
            let store = try await open(cluster)
            let root = try Key("/r")
            _ = try await store.create(root, value: [], mode: .persistent)
            var events = store.watch(root, scope: .subtree).makeAsyncIterator()
            guard case .snapshot = try await next(&events, "the first snapshot") else {
                Issue.record("the first event must be a snapshot")
                return
            }
            let before = try await store.create(try root.child("before"), value: [1], mode: .persistent)
            #expect(try await next(&events, "the write before the restart") == .put(before))
            let session = store.session.sessionID

            let member = cluster.members[0]
            await cluster.stop(member)
            try await cluster.start(member)
            try await cluster.waitUntilHealthy()

            var written: [Record] = []
            for index in 0..<5 {
                written.append(try await store.create(try root.child("after\(index)"), value: [UInt8(index)], mode: .persistent))
            }
            for record in written {
                let event = try await next(&events, "the writes after the restart")
                #expect(event == .put(record), "resumed from the last revision seen: every event, in order, no snapshot")
            }
            #expect(store.session.sessionID == session, "the lease outlives a restart shorter than its TTL")
            await store.close()
        }
    }

    /// An etcd whose history went back while a watch was away (its data wiped, or restored from
    /// an older snapshot, as in disaster recovery) would have the watch resume at a revision
    /// the new history reaches only later, if ever: the writes made meanwhile were never told,
    /// and a consumer kept keys the store no longer had. It must resync with a snapshot. The
    /// session's lease is gone with the data: it expires and a new one serves, as on a
    /// ZooKeeper that comes back with less history (`RestoredServerTests`).
    @Test func anEtcdWhoseHistoryWentBackResyncsTheWatch() async throws {
        try await EtcdCluster.with { cluster in
            let store = try await open(cluster, ttl: .seconds(3))
            let root = try Key("/h")
            // Enough revisions that the emptied server's few writes stay below them.
            for index in 0..<20 { _ = try await store.create(try root.child("old\(index)"), value: [1], mode: .persistent) }
            var events = store.watch(root, scope: .subtree).makeAsyncIterator()
            var state: [Key: Record] = [:]
            state.apply(try await next(&events, "the first snapshot"))
            #expect(state.count == 21)
            var sessions = store.sessionEvents().makeAsyncIterator()
            let first = try await next(&sessions, "the current session")

            let member = cluster.members[0]
            await cluster.stop(member)
            try FileManager.default.removeItem(atPath: member.dataDirectory)
            try await cluster.start(member)
            try await cluster.waitUntilHealthy()
            _ = try await store.put(try root.child("new"), value: [2])

            let expected = Dictionary(uniqueKeysWithValues: try await store.records(under: root).map { ($0.key, $0) })
            #expect(expected.count == 2, "the root and the one key written since")
            while state != expected {
                state.apply(try await next(&events, "convergence to the emptied store's state"))
            }

            var expired = try await next(&sessions, "the lost lease's expiry")
            while expired.state == .suspended || expired.state == .reconnected { expired = try await next(&sessions, "the lost lease's expiry") }
            #expect(expired.state == .expired && expired.sessionID == first.sessionID, "\(expired)")
            let renewed = try await next(&sessions, "a new session")
            #expect(renewed.state == .connected && renewed.sessionID != first.sessionID, "\(renewed)")
            #expect(try await store.create(try root.child("mine"), value: [], mode: .ephemeral).ownerSession == renewed.sessionID)
            await store.close()
        }
    }

    @Test func pausedServerSuspendsThenReconnectsTheSameSession() async throws {
        try await EtcdCluster.with { cluster in
            let store = try await open(cluster, ttl: .seconds(10))
            let ephemeral = try await store.create(try Key("/held"), value: [], mode: .ephemeral)
            var states = store.sessionEvents().makeAsyncIterator()
            let first = try await next(&states, "the current session state")
            let pid = try #require(cluster.pid(of: cluster.members[0]))
            // Stopped for 6 s: the keep-alive in flight gets no answer (overdue after 2 s: the
            // session is suspended), yet the 10 s lease has not run out when the server comes back.
            kill(pid, SIGSTOP)
            let suspended = try await next(&states, "suspended while the server is stopped")
            #expect(suspended.state == .suspended)
            #expect(suspended.sessionID == first.sessionID)
            try await Task.sleep(for: .seconds(6) - (ContinuousClock.now - first.lastContact))
            kill(pid, SIGCONT)
            let back = try await next(&states, "reconnected once the server runs again")
            #expect(back.state == .reconnected, "contact came back within the TTL")
            #expect(back.sessionID == first.sessionID)
            #expect(try await store.get(ephemeral.key) != nil, "the ephemeral key survived the suspension")
            await store.close()
        }
    }

    /// A server that stops answering times a read and a write out with `timeout`, as ZooKeeper
    /// does (ServerFailureTests.frozenServerTimesOperationsOut).
    @Test func frozenServerTimesOperationsOut() async throws {
        try await EtcdCluster.with { cluster in
            let store = try await EtcdStore(
                endpoints: cluster.endpoints, namespace: namespace, ttl: .seconds(10), requestTimeout: .seconds(2),
                logger: Logger(label: "test.etcd.server"))
            let key = try Key("/k")
            _ = try await store.create(key, value: [1], mode: .persistent)
            let pid = try #require(cluster.pid(of: cluster.members[0]))
            // The store must talk to the process frozen below, not to another process's server on its port.
            try #require(ProcessTable.listens(pid, on: cluster.members[0].clientPort), "the process frozen below is the one serving the store's port")
            // Frozen here, until every thread stopped: the requests below must all meet a stopped server.
            try await ProcessTable.freeze(pid)
            await expectFrozenServerTimesOut(store, key: key, freeze: {}, thaw: { kill(pid, SIGCONT) })
            await store.close()
        }
    }

    @Test func leaderKilledUnderLoadLosesNoAcknowledgedWrite() async throws {
        try await EtcdCluster.with(size: 3) { cluster in
            let leader = try #require(await cluster.leader(), "a 3-member cluster elects a leader")
            // The leader first, so the store must also fail over to another endpoint when it dies.
            let endpoints = ["127.0.0.1:\(leader.clientPort)"] + cluster.endpoints.filter { $0 != "127.0.0.1:\(leader.clientPort)" }
            let store = try await EtcdStore(
                endpoints: endpoints, namespace: namespace, requestTimeout: .seconds(5), logger: Logger(label: "test.etcd.server"))
            let start = ContinuousClock.now
            let killAt = start.advanced(by: .seconds(1))
            // A write that reached a follower as the leader died can wait out the whole request
            // timeout (etcd drops proposals in flight to a dead leader): run well past it.
            let stopAt = killAt.advanced(by: .seconds(10))
            let outcomes = try await withThrowingTaskGroup(of: ([Key: [UInt8]], [CoordinationError.Code], Int).self) { group in
                for writer in 0..<3 {
                    group.addTask {
                        var acknowledged: [Key: [UInt8]] = [:]
                        var errors: [CoordinationError.Code] = []
                        var afterKill = 0
                        var index = 0
                        while ContinuousClock.now < stopAt {
                            index += 1
                            let key = try Key("/load/w\(writer)-\(index)")
                            let value = Array("\(writer):\(index)".utf8)
                            do {
                                _ = try await store.create(key, value: value, mode: .persistent)
                                acknowledged[key] = value
                                if ContinuousClock.now > killAt.advanced(by: .milliseconds(200)) { afterKill += 1 }
                            } catch let error as CoordinationError {
                                errors.append(error.code)
                            }
                        }
                        return (acknowledged, errors, afterKill)
                    }
                }
                group.addTask {
                    try await Task.sleep(until: killAt)
                    await cluster.stop(leader, kill: true)
                    return ([:], [], 0)
                }
                return try await group.reduce(into: [([Key: [UInt8]], [CoordinationError.Code], Int)]()) { $0.append($1) }
            }
            let acknowledged = outcomes.reduce(into: [Key: [UInt8]]()) { $0.merge($1.0) { first, _ in first } }
            let errors = outcomes.flatMap(\.1)
            #expect(outcomes.map(\.2).reduce(0, +) > 0, "writes succeed again once a new leader is elected")
            #expect(errors.allSatisfy { [.connectionLoss, .unavailable, .timeout].contains($0) }, "only contact errors: \(errors)")
            let reader = try await open(cluster)
            for (key, value) in acknowledged {
                #expect(try await reader.get(key)?.value == value, "acknowledged write \(key) must survive the leader")
            }
            await reader.close()
            await store.close()
        }
    }

    /// A member stopping gracefully (SIGTERM, as in a rolling restart) answers the writes in
    /// flight "transport is closing" or "the client connection is closing", and some of those
    /// writes were applied all the same. Only a write that surely changed nothing may be
    /// `unavailable`; one whose outcome is unknown must be `connectionLoss` (or `timeout`).
    @Test func writesCutByAGracefulStopAreNeverReportedUnapplied() async throws {
        try await EtcdCluster.with { cluster in
            let member = cluster.members[0]
            let writers = 16
            // Each stop catches a few writes in flight; several stops make a wrong answer likely
            // to show (one stop alone caught it about one time in four before the fix).
            for round in 0..<4 {
                let store = try await open(cluster)
                let folder = try Key("/stop\(round)")
                _ = try await store.create(folder, value: [], mode: .persistent)
                // Each writer says once when it is under way (20 writes done) or has given up.
                let (underWay, announce) = AsyncStream<Void>.makeStream()
                let failures = try await withThrowingTaskGroup(of: [(Key, CoordinationError.Code)].self) { group in
                    for writer in 0..<writers {
                        group.addTask {
                            var failed: [(Key, CoordinationError.Code)] = []
                            var index = 0
                            // Until the stop, then a few failures more (the store may take time to notice).
                            while cluster.isStarted(member) || failed.count < 3 {
                                index += 1
                                let key = try folder.child("w\(writer)-\(index)")
                                do {
                                    _ = try await store.create(key, value: [1], mode: .persistent)
                                    if index == 20 { announce.yield() }
                                } catch let error as CoordinationError {
                                    failed.append((key, error.code))
                                    if cluster.isStarted(member) {
                                        Issue.record("a write failed before the stop: \(error)")
                                        if index <= 20 { announce.yield() }
                                        return []
                                    }
                                }
                            }
                            return failed
                        }
                    }
                    group.addTask {
                        var announced = 0
                        for await _ in underWay {
                            announced += 1
                            if announced == writers { break }
                        }
                        await cluster.stop(member)
                        return []
                    }
                    return try await group.reduce(into: [(Key, CoordinationError.Code)]()) { $0 += $1 }
                }
                await store.close()
                #expect(failures.allSatisfy { [.connectionLoss, .unavailable, .timeout].contains($0.1) }, "only contact errors: \(failures)")
                try await cluster.start(member)
                try await cluster.waitUntilHealthy()
                let reader = try await open(cluster)
                for (key, code) in failures where code == .unavailable {
                    #expect(try await reader.get(key) == nil, "\(key) was reported unavailable (not applied) but was applied")
                }
                await reader.close()
            }
        }
    }

    @Test func authWrongPasswordIsUnauthenticatedAndExpiredTokensAreRenewed() async throws {
        try await EtcdCluster.with(arguments: ["--auth-token-ttl", "1"]) { cluster in
            try await cluster.admin.enableRootAuth(password: "s3cret")

            let wrong = await #expect(throws: CoordinationError.self) { _ = try await open(cluster, user: "root", password: "wrong") }
            #expect(wrong?.code == .unauthenticated)
            // Not etcd's bare "invalid user ID or password": which user, and where its password comes from.
            // And which server: credentials from a config file may be meant for another cluster.
            #expect(
                wrong?.message.hasPrefix("etcd at http://\(cluster.endpoints[0]) refused the login of user 'root': no such user, or a wrong password") == true,
                "\(String(describing: wrong))")

            let store = try await open(cluster, ttl: .seconds(30), user: "root", password: "s3cret")
            _ = try await store.create(try Key("/a"), value: [1], mode: .persistent)
            let firstToken = try #require(store.gateway.currentToken)
            // The token lives 1 s past its last use; outwait it (a wait on the server's clock, not a sync).
            try await Task.sleep(for: .seconds(3))
            #expect(try await store.get(try Key("/a"))?.value == [1], "an expired token is renewed without the caller noticing")
            #expect(store.gateway.currentToken != firstToken, "a new token was fetched")

            let anonymous = await #expect(throws: CoordinationError.self) {
                _ = try await EtcdStore(endpoints: cluster.endpoints, namespace: namespace, logger: Logger(label: "test"))
            }
            #expect(anonymous?.code == .unauthenticated)
            // Not etcd's "user name is empty": what is on, and where a user and password go.
            // And which server, as the login's refusal says.
            #expect(
                anonymous?.message.hasPrefix(
                    "etcd at http://\(cluster.endpoints[0]) refused the request: it has authentication enabled, and no user was given") == true,
                "\(String(describing: anonymous))")
            #expect(anonymous?.message.contains("etcd://USER:PASSWORD@") == true, "\(String(describing: anonymous))")
            // Not etcd's "invalid user ID or password": the password is missing, not wrong, and
            // that is known before any login (as on ZooKeeper: StoreCredentials).
            let noPassword = await #expect(throws: CoordinationError.self) { _ = try await open(cluster, user: "root") }
            #expect(noPassword?.code == .invalidConfiguration)
            #expect(noPassword?.message.contains("user 'root' but no password") == true, "\(String(describing: noPassword))")
            await store.close()
        }
    }

    /// Two tenants, each an etcd user whose role may touch only its own namespace (and that
    /// namespace's sequence counters): each works in its own, neither can read or write the
    /// other's, and no password shows in any log line or error, even at trace level.
    @Test func tenantRolesLimitedToAPrefixShutEachOtherOut() async throws {
        try await EtcdCluster.with { cluster in
            let admin = cluster.admin
            _ = try await admin.call("/v3/auth/user/add", ["name": "root", "password": "root-pw-1"])
            _ = try await admin.call("/v3/auth/role/add", ["name": "root"])
            _ = try await admin.call("/v3/auth/user/grant", ["user": "root", "role": "root"])
            let tenants = [("alice", "alice-pw-7f3a", "/tenant-a"), ("bob", "bob-pw-91c2", "/tenant-b")]
            for (user, password, namespace) in tenants {
                _ = try await admin.call("/v3/auth/user/add", ["name": .string(user), "password": .string(password)])
                _ = try await admin.call("/v3/auth/role/add", ["name": .string(user)])
                // The namespace's own key, everything under it (not a sibling such as /tenant-ab),
                // and its sequence counters, which live outside every namespace.
                let counters = "coordination/sequence" + namespace
                for (key, end) in [
                    (namespace, nil), (namespace + "/", KeySpace.prefixEnd(Array((namespace + "/").utf8))),
                    (counters, nil), (counters + "/", KeySpace.prefixEnd(Array((counters + "/").utf8))),
                ] {
                    var permission: [String: JSONValue] = ["permType": "READWRITE", "key": .bytes(Array(key.utf8))]
                    if let end { permission["range_end"] = .bytes(end) }
                    _ = try await admin.call("/v3/auth/role/grant", ["name": .string(user), "perm": .object(permission)])
                }
                _ = try await admin.call("/v3/auth/user/grant", ["user": .string(user), "role": .string(user)])
            }
            // A third tenant granted its namespace only, as one would guess: refused what writes
            // counters, told what to grant.
            _ = try await admin.call("/v3/auth/user/add", ["name": "carol", "password": "carol-pw-5e1d"])
            _ = try await admin.call("/v3/auth/role/add", ["name": "carol"])
            _ = try await admin.call("/v3/auth/role/grant", [
                "name": "carol",
                "perm": ["permType": "READWRITE", "key": .bytes(Array("/tenant-c".utf8)), "range_end": .bytes(KeySpace.prefixEnd(Array("/tenant-c".utf8)))],
            ])
            _ = try await admin.call("/v3/auth/user/grant", ["user": "carol", "role": "carol"])
            // A reader of tenant a's namespace only (an operator's read-only account).
            _ = try await admin.call("/v3/auth/user/add", ["name": "dave", "password": "dave-pw-0b4e"])
            _ = try await admin.call("/v3/auth/role/add", ["name": "dave"])
            _ = try await admin.call("/v3/auth/role/grant", [
                "name": "dave",
                "perm": ["permType": "READ", "key": .bytes(Array("/tenant-a".utf8)), "range_end": .bytes(KeySpace.prefixEnd(Array("/tenant-a".utf8)))],
            ])
            _ = try await admin.call("/v3/auth/user/grant", ["user": "dave", "role": "dave"])
            _ = try await admin.call("/v3/auth/enable", [:])

            let logs = CapturedLogs()
            func open(_ user: String, _ password: String, _ namespace: String) async throws -> EtcdStore {
                try await EtcdStore(
                    endpoints: cluster.endpoints, namespace: try Key(namespace), user: user, password: password,
                    requestTimeout: .seconds(5), logger: logs.logger())
            }
            var errors: [CoordinationError] = []
            for (user, password, namespace) in tenants {
                let own = try await open(user, password, namespace)
                _ = try await own.create(try Key("/jobs/x"), value: Array(user.utf8), mode: .persistent)
                let sequential = try await own.create(try Key("/jobs/q-"), value: [], mode: .sequential)
                #expect(sequential.key.name.hasPrefix("q-"))
                #expect(try await own.get(try Key("/jobs/x"))?.value == Array(user.utf8))
                await own.close()
            }
            for (user, password, namespace) in tenants {
                let other = tenants.first { $0.0 != user }!.2
                // A handle on the other tenant's namespace cannot even open (it makes sure its
                // namespace key exists, a write there).
                let refused = await #expect(throws: CoordinationError.self) { _ = try await open(user, password, other) }
                #expect(refused?.code == .permissionDenied, "\(user) opening \(other): \(String(describing: refused))")
                if let refused { errors.append(refused) }
                // A handle on the root opens (it writes nothing), reads its own tenant's keys,
                // and is refused every read and write of the other's.
                let intruder = try await open(user, password, "/")
                #expect(try await intruder.get(try Key(namespace + "/jobs/x"))?.value == Array(user.utf8))
                for attempt in [
                    { _ = try await intruder.get(try Key(other + "/jobs/x")) },
                    { _ = try await intruder.children(of: try Key(other + "/jobs")) },
                    { _ = try await intruder.put(try Key(other + "/jobs/x"), value: [0]) },
                    { _ = try await intruder.create(try Key(other + "/jobs/y"), value: [0], mode: .persistent) },
                    { try await intruder.delete(try Key(other + "/jobs"), ifVersion: nil, recursive: true) },
                ] as [@Sendable () async throws -> Void] {
                    let error = await #expect(throws: CoordinationError.self) { try await attempt() }
                    #expect(error?.code == .permissionDenied, "\(user) in \(other): \(String(describing: error))")
                    if let error { errors.append(error) }
                }
                await intruder.close()
            }
            let carol = try await open("carol", "carol-pw-5e1d", "/tenant-c")
            _ = try await carol.create(try Key("/jobs/x"), value: [1], mode: .persistent)
            for attempt in [
                { _ = try await carol.create(try Key("/jobs/q-"), value: [], mode: .sequential) },
                { try await carol.delete(try Key("/jobs/x"), ifVersion: nil, recursive: false) },
            ] as [@Sendable () async throws -> Void] {
                let error = await #expect(throws: CoordinationError.self) { try await attempt() }
                #expect(error?.code == .permissionDenied)
                #expect(
                    error?.message.contains("etcdctl role grant-permission ROLE --prefix=true readwrite coordination/sequence/tenant-c") == true,
                    "\(String(describing: error))")
                // Which user was refused: one given by a config file or the environment is out of sight.
                #expect(error?.message.contains("permission denied to user 'carol'; ") == true, "\(String(describing: error))")
            }
            await carol.close()

            // Read-only: the namespace exists, so opening writes nothing; reads work, writes are refused.
            let dave = try await open("dave", "dave-pw-0b4e", "/tenant-a")
            #expect(try await dave.get(try Key("/jobs/x"))?.value == Array("alice".utf8))
            #expect(try await dave.children(of: try Key("/jobs")).contains("x"))
            let daveWrites = await #expect(throws: CoordinationError.self) { _ = try await dave.put(try Key("/jobs/x"), value: [0]) }
            #expect(daveWrites?.code == .permissionDenied, "\(String(describing: daveWrites))")
            await dave.close()

            let wrong = await #expect(throws: CoordinationError.self) { _ = try await open("alice", "bob-pw-91c2", "/tenant-a") }
            #expect(wrong?.code == .unauthenticated)
            if let wrong { errors.append(wrong) }

            for (_, password, _) in tenants + [("root", "root-pw-1", "/")] {
                #expect(logs.lines(containing: password).isEmpty, "a password in the logs: \(logs.lines(containing: password))")
                for error in errors {
                    #expect(!"\(error)".contains(password), "a password in an error: \(error)")
                }
            }
            #expect(!logs.all.isEmpty, "the stores logged at trace level, so the search above searched something")
        }
    }

    @Test func tlsWithCertificatesMadeByOpenSSL() async throws {
        try await withClientCertificateCluster { cluster, directory in
            let url = "etcds://\(cluster.endpoints[0])\(namespace.path)?cacert=\(directory)/ca.pem&cert=\(directory)/client.pem&key=\(directory)/client.key"
            let store = try await StoreRegistry([.etcd]).open(url, logger: Logger(label: "test"))
            let record = try await store.create(try Key("/secure"), value: [42], mode: .ephemeral)
            #expect(try await store.get(record.key) == record)
            await store.close()

            let withoutClientCertificate = await refusal("etcds://\(cluster.endpoints[0])/x?cacert=\(directory)/ca.pem")
            // Not "cannot reach etcd; is the server running?": etcd hangs up after a TLS 1.3
            // handshake, as a dropped connection does, and a TLS 1.2 handshake tells them apart.
            #expect(withoutClientCertificate?.code == .invalidConfiguration)
            #expect(
                withoutClientCertificate?.message.hasPrefix(
                    "etcd at https://\(cluster.endpoints[0]) refused a connection without a client certificate: it runs with --client-cert-auth") == true,
                "\(String(describing: withoutClientCertificate))")
            let untrustedClient = await refusal("etcds://\(cluster.endpoints[0])/x?cacert=\(directory)/ca.pem&cert=\(directory)/stranger.pem&key=\(directory)/stranger.key")
            #expect(untrustedClient?.code == .invalidConfiguration)
            #expect(
                untrustedClient?.message.hasPrefix(
                    "etcd at https://\(cluster.endpoints[0]) refused the client certificate cert=\(directory)/stranger.pem (--tls-cert) in the TLS handshake") == true,
                "\(String(describing: untrustedClient))")
            #expect(untrustedClient?.message.contains("--trusted-ca-file") == true, "\(String(describing: untrustedClient))")
            // Refused before any connection: OpenSSL would ask for the passphrase on the terminal.
            let encrypted = await refusal("etcds://\(cluster.endpoints[0])/x?cacert=\(directory)/ca.pem&cert=\(directory)/nameless.pem&key=\(directory)/encrypted.key")
            #expect(encrypted?.code == .invalidConfiguration)
            #expect(
                encrypted?.message.hasPrefix("store URL option key=\(directory)/encrypted.key: the private key is encrypted with a passphrase") == true,
                "\(String(describing: encrypted))")
            let plain = await refusal("etcd://\(cluster.endpoints[0])/x")
            #expect(plain?.code == .unavailable)
            #expect(plain?.message.contains("use etcds://") == true, "\(String(describing: plain))")
            // A CA that did not sign the server's certificate: the message names the setting.
            let untrusted = await refusal("etcds://\(cluster.endpoints[0])/x?cacert=\(directory)/other-ca.pem&cert=\(directory)/client.pem&key=\(directory)/client.key")
            #expect(untrusted?.code == .invalidConfiguration)
            #expect(untrusted?.message.contains("certificate is not trusted; is cacert=") == true, "\(untrusted?.message ?? "")")
            // Trusted, but made out to 127.0.0.1 only: the name is what to change, not the CA.
            let port = try #require(cluster.endpoints[0].split(separator: ":").last)
            let otherName = await refusal("etcds://localhost:\(port)/x?cacert=\(directory)/ca.pem&cert=\(directory)/client.pem&key=\(directory)/client.key")
            #expect(otherName?.code == .invalidConfiguration)
            #expect(
                otherName?.message.hasPrefix("the certificate etcd at https://localhost:\(port) presents is not made out to 'localhost'") == true,
                "\(otherName?.message ?? "")")
            let missingFile = await refusal("etcds://\(cluster.endpoints[0])/x?cacert=\(directory)/no-such-ca.pem")
            #expect(missingFile?.code == .invalidConfiguration)
            #expect(missingFile?.message.contains("cacert=") == true, "\(missingFile?.message ?? "")")
        }
    }

    /// A server certificate past its end date is named as expired, not as signed by another CA.
    @Test func anExpiredServerCertificateIsNamedAsExpired() async throws {
        let directory = try await certificates()
        defer { try? FileManager.default.removeItem(atPath: directory) }
        // Valid for no time at all: its end date is the instant it was signed. (etcd serves it all the same.)
        try await ChildProcessLaunch.runToCompletion(
            "/usr/bin/openssl",
            ["x509", "-req", "-in", "server.csr", "-CA", "ca.pem", "-CAkey", "ca.key", "-CAcreateserial", "-out", "expired.pem", "-days", "0", "-extfile", "server.ext"],
            in: directory)
        let arguments = ["--cert-file", "\(directory)/expired.pem", "--key-file", "\(directory)/server.key"]
        let clientTLS = EtcdCluster.ClientTLS(caCertificate: "\(directory)/ca.pem", clientCertificate: nil, clientKey: nil)
        let cluster = EtcdCluster(size: 1, extraArguments: arguments, secure: true, clientTLS: clientTLS)
        defer { cluster.stopAll() }
        try await cluster.start(cluster.members[0])
        // Listening is all there is to wait for: no client that checks the certificate gets further.
        try await cluster.waitUntilServing(probe: { _ in true })
        let error = await refusal("etcds://\(cluster.endpoints[0])/x?cacert=\(directory)/ca.pem")
        #expect(error?.code == .invalidConfiguration)
        #expect(
            error?.message.hasPrefix("the certificate etcd at https://\(cluster.endpoints[0]) presents has expired; renew it on the server") == true,
            "\(String(describing: error))")
    }

    /// With auth and `--client-cert-auth` on, etcd's gateway refuses a client certificate that has
    /// a Common Name (it takes the CN as the user only from gRPC clients) with a bare HTTP 400:
    /// named as such, with the certificate to make instead, not as a wrong port. A certificate
    /// without one, with the user and password in the URL, works.
    @Test func aClientCertificateWithACommonNameIsNamedWhenAuthIsOn() async throws {
        try await withClientCertificateCluster { cluster, directory in
            // Through the gateway while auth is still off, when the CN does not matter yet.
            try await cluster.admin.enableRootAuth(password: "root-pw-5d1")
            func url(certificate: String) -> String {
                "etcds://root:root-pw-5d1@\(cluster.endpoints[0])\(namespace.path)?cacert=\(directory)/ca.pem"
                    + "&cert=\(directory)/\(certificate).pem&key=\(directory)/\(certificate).key"
            }
            let named = await #expect(throws: CoordinationError.self) {
                _ = try await StoreRegistry([.etcd]).open(url(certificate: "client"), logger: Logger(label: "test"))
            }
            #expect(named?.code == .unauthenticated)
            #expect(
                named?.message.hasPrefix(
                    "etcd at https://\(cluster.endpoints[0]) refused the request: it has authentication and --client-cert-auth on, "
                        + "and its JSON gateway refuses a client certificate with a Common Name (CN)") == true,
                "\(String(describing: named))")
            #expect(named?.message.contains("with an empty CN") == true, "\(String(describing: named))")
            #expect(named?.message.contains("root-pw-5d1") == false, "no password in the message")

            let store = try await StoreRegistry([.etcd]).open(url(certificate: "nameless"), logger: Logger(label: "test"))
            let record = try await store.create(try Key("/nameless"), value: [7], mode: .ephemeral)
            #expect(try await store.get(record.key) == record)
            await store.close()
        }
    }

    /// A member that could not bind its client port, because another process's server took it
    /// between the port's check and the member's start, is not taken for ready although a server
    /// answers there: the tests would talk to that other server, which they never stop or freeze
    /// (a SIGSTOPped member once answered a read). The other server here is the shared etcd,
    /// seen through a relay that holds the port.
    @Test func aMemberWhosePortAnotherServerTookIsNotTakenForReady() async throws {
        let relay = try TCPRelay(upstreams: [TestEnvironment.etcdEndpoints[0]]) { false }
        defer { relay.stop() }
        let port = try #require(relay.address.split(separator: ":").last.flatMap { Int($0) })
        let cluster = EtcdCluster(size: 1, basePort: port)
        defer { cluster.stopAll() }
        try await cluster.start(cluster.members[0])
        #expect(await EtcdCluster.status(of: cluster.members[0]) != nil, "another server answers on the member's port")
        let error = await #expect(throws: CoordinationError.self, "the member never served its port") {
            try await cluster.waitUntilServing()
        }
        #expect(error?.message.contains("etcd member m0 exited before serving") == true, "\(error?.message ?? "")")
    }

    /// Ports claimed by another process (a `swift test` of another checkout) are not claimed
    /// again until it lets them go: a wait for them ends when it does, or at its deadline.
    @Test func portsClaimedByAnotherProcessWaitForItsRelease() async throws {
        // Outside both test ranges: only this test's claims use it.
        let port = Int.random(in: 40000..<60000)
        let holder = Process()
        holder.executableURL = URL(fileURLWithPath: "/usr/bin/flock")
        holder.arguments = ["-n", "\(PortLease.directory)/\(port).lock", "-c", "echo held; read line"]
        let input = Pipe()
        let output = Pipe()
        holder.standardInput = input
        holder.standardOutput = output
        try await ChildProcessLaunch.run(holder)
        defer { if holder.isRunning { kill(holder.processIdentifier, SIGKILL) } }
        let said = await OwnThread.run { String(decoding: output.fileHandleForReading.availableData, as: UTF8.self) }
        try #require(said == "held\n", "flock holds the port's lock file")

        #expect(PortLease.tryClaim([port]) == nil, "the port is another process's")
        #expect(PortLease.tryClaim([port, port + 1]) == nil, "a claim takes all its ports or none")
        let lease = try #require(PortLease.tryClaim([port + 1]), "the next port is nobody's, and not kept by the failed claim")
        lease.release()
        await #expect(throws: CoordinationError.self, "the wait gives up at its deadline") {
            _ = try await PortLease.claim([port], within: .milliseconds(300))
        }
        async let waited = PortLease.claim([port, port + 1], within: .seconds(30))
        try input.fileHandleForWriting.close()  // the holder's `read` ends, and so does its claim
        let claimed = try await waited
        #expect(claimed.ports == [port, port + 1])
        #expect(PortLease.tryClaim([port]) == nil, "the claim holds the port now")
        claimed.release()
        // Waiting: the claim given up on above may still take the port for an instant, when freed.
        let again = try await PortLease.claim([port], within: .seconds(10))
        #expect(again.ports == [port], "released")
        again.release()
    }

    /// Why opening `url` failed; a recorded failure, and `nil`, when it opened.
    func refusal(_ url: String, sourceLocation: SourceLocation = #_sourceLocation) async -> CoordinationError? {
        await #expect(throws: CoordinationError.self, sourceLocation: sourceLocation) {
            _ = try await StoreRegistry([.etcd]).open(url, logger: Logger(label: "test"))
        }
    }

    /// A new folder holding ``makeCertificates(in:)``'s files; the caller removes it.
    func certificates() async throws -> String {
        let directory = NSTemporaryDirectory() + "coordination-tls-\(UUID().uuidString.prefix(8))"
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        do {
            try await makeCertificates(in: directory)
        } catch {
            try? FileManager.default.removeItem(atPath: directory)
            throw error
        }
        return directory
    }

    /// An etcd serving TLS that asks every client for a certificate signed by the test CA
    /// (`--client-cert-auth`), its admin calls made with the `client` one; `body` gets the cluster
    /// and the certificates' folder.
    func withClientCertificateCluster(_ body: (EtcdCluster, String) async throws -> Void) async throws {
        let directory = try await certificates()
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let tls = TLSFiles(caCertificate: "\(directory)/ca.pem", clientCertificate: "\(directory)/client.pem", clientKey: "\(directory)/client.key")
        let arguments = [
            "--cert-file", "\(directory)/server.pem", "--key-file", "\(directory)/server.key",
            "--trusted-ca-file", "\(directory)/ca.pem", "--client-cert-auth",
        ]
        try await EtcdCluster.with(arguments: arguments, secure: true, tls: tls) { cluster in try await body(cluster, directory) }
    }

    /// A CA, a server certificate for 127.0.0.1 and a client certificate, made with openssl.
    func makeCertificates(in directory: String) async throws {
        func openssl(_ arguments: String...) async throws {
            try await ChildProcessLaunch.runToCompletion("/usr/bin/openssl", arguments, in: directory)
        }
        // etcd 3.4's gateway dials its own gRPC port with the server certificate as a client
        // certificate, so that one needs clientAuth too.
        try "subjectAltName=IP:127.0.0.1\nextendedKeyUsage=serverAuth,clientAuth\n".write(toFile: "\(directory)/server.ext", atomically: true, encoding: .utf8)
        try "extendedKeyUsage=clientAuth\n".write(toFile: "\(directory)/client.ext", atomically: true, encoding: .utf8)
        try await openssl("req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", "ca.key", "-out", "ca.pem", "-days", "1", "-subj", "/CN=coordination-test-ca")
        // A CA that signed nothing here: a client that trusts only it must refuse the server.
        try await openssl("req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", "other-ca.key", "-out", "other-ca.pem", "-days", "1", "-subj", "/CN=another-ca")
        // `nameless`: a client certificate without a Common Name, which etcd's gateway takes with auth on.
        let subjects = ["server": "/CN=127.0.0.1", "client": "/CN=root", "nameless": "/O=coordination-test"]
        for (name, subject) in subjects {
            try await openssl("req", "-newkey", "rsa:2048", "-nodes", "-keyout", "\(name).key", "-out", "\(name).csr", "-subj", subject)
            let extensions = name == "server" ? "server.ext" : "client.ext"
            try await openssl("x509", "-req", "-in", "\(name).csr", "-CA", "ca.pem", "-CAkey", "ca.key", "-CAcreateserial", "-out", "\(name).pem", "-days", "1", "-extfile", extensions)
        }
        // A client certificate signed by the CA the server does not trust, and a key under a passphrase.
        try await openssl("req", "-newkey", "rsa:2048", "-nodes", "-keyout", "stranger.key", "-out", "stranger.csr", "-subj", "/O=stranger")
        try await openssl("x509", "-req", "-in", "stranger.csr", "-CA", "other-ca.pem", "-CAkey", "other-ca.key", "-CAcreateserial", "-out", "stranger.pem", "-days", "1", "-extfile", "client.ext")
        try await openssl("pkey", "-in", "nameless.key", "-aes256", "-passout", "pass:coordination", "-out", "encrypted.key")
    }
}
