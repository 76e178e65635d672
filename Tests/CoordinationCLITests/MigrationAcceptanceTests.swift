import Coordination
import CoordinationLocalServers
import CoordinationScheduler
import CoordinationTestSupport
import Foundation
import Testing

/// Issue 7's migration acceptance through real processes: third-party clients on both sides of a
/// `coord migrate`, and a scheduler moved from ZooKeeper to etcd with its workers. A missing
/// server or Python client skips locally and fails under CI=true.
@Suite("Migration acceptance: kazoo → coord migrate → etcd3gw; a scheduler moved to etcd", .serverLoadLimit)
struct MigrationAcceptanceTests {
    typealias Background = SchedulerProcessTests.Background
    typealias Entry = SchedulerAcceptanceTests.Entry

    /// Runs `body` with a fresh namespace on ZooKeeper and on etcd, and deletes both afterwards.
    static func withZooKeeperAndEtcd(
        test: String = #function, _ body: (_ zookeeper: TestHandles, _ etcd: TestHandles) async throws -> Void
    ) async throws {
        let zookeeper = try TestHandles(.zookeeper, test: test)
        let etcd = try TestHandles(.etcd, test: test)
        try await TestHandles.closing(zookeeper, etcd) {
            try await body(zookeeper, etcd)
        }
    }

    // MARK: - A kazoo tree read back by etcd3gw

    static let etcd3gwInstall = "python3 -m pip install etcd3gw"

    /// Prints `{base64 key: base64 value}` for every etcd key under a prefix, as etcd3gw reads them.
    static let etcd3gwReadPrefix = """
        import base64, json, sys
        from etcd3gw.client import Etcd3Client
        host, port, prefix = sys.argv[1], int(sys.argv[2]), sys.argv[3]
        client = Etcd3Client(host=host, port=port, timeout=30)
        print(json.dumps({base64.b64encode(meta["key"]).decode(): base64.b64encode(value).decode()
                          for value, meta in client.get_prefix(prefix)}))
        """

    /// What kazoo writes: every byte, empty, non-ASCII names, depth 8, the maximum value size, and
    /// a folder of siblings.
    static let kazooTree: [String: [UInt8]] = {
        var tree: [String: [UInt8]] = [
            "/tree/bytes": Array(0...255),
            "/tree/empty": [],
            "/tree/text/ünïcødé-名前": Array("héllo, wörld ✓\n".utf8),
            "/tree/a/b/c/d/e/f/deep": [0xFF, 0x00, 0xFE],
            "/tree/large": (0..<CoordinationLimits.maxValueBytes).map { UInt8(truncatingIfNeeded: $0 &* 2_654_435_761 >> 7) },
        ]
        for i in 0..<40 { tree[String(format: "/tree/many/n%02d", i)] = [UInt8(i), 0, UInt8(255 - i)] }
        return tree
    }()

    /// The tree as ZooKeeper holds it after kazoo's `makepath`: every ancestor exists, empty.
    static func withAncestors(_ tree: [String: [UInt8]]) -> [String: [UInt8]] {
        var all = tree
        for path in tree.keys {
            var parent = path
            while let slash = parent.lastIndex(of: "/"), slash != parent.startIndex {
                parent = String(parent[..<slash])
                if all[parent] == nil { all[parent] = [] }
            }
        }
        return all
    }

    /// Every key etcd3gw sees under `namespace`, relative to it, with its bytes.
    static func etcd3gwRead(under namespace: Key) async throws -> [String: [UInt8]] {
        let endpoint = TestEnvironment.etcdEndpoints[0].split(separator: ":")
        let output = try await PythonScript.run(
            etcd3gwReadPrefix, [String(endpoint[0]), String(endpoint.last ?? "2379"), namespace.path + "/"], input: Data())
        let encoded = try JSONDecoder().decode([String: String].self, from: output)
        var tree: [String: [UInt8]] = [:]
        for (key, value) in encoded {
            let path = String(decoding: try #require(Data(base64Encoded: key)), as: UTF8.self)
            tree[String(path.dropFirst(namespace.path.count))] = Array(try #require(Data(base64Encoded: value)))
        }
        return tree
    }

    @Test("a tree written by kazoo is migrated to etcd by coord migrate --verify and read back by etcd3gw, byte for byte")
    func kazooTreeReadByEtcd3gw() async throws {
        try await PythonScript.require("kazoo", install: Kazoo.install)
        try await PythonScript.require("etcd3gw", install: Self.etcd3gwInstall)
        try await Self.withZooKeeperAndEtcd { zk, etcd in
            let coord = try CoordProcess()
            defer { coord.removeDirectory() }
            var request: [String: String] = [:]
            for (path, value) in Self.kazooTree { request[zk.namespace.path + path] = Data(value).base64EncodedString() }
            _ = try await Kazoo.run("write", request)
            let expected = Self.withAncestors(Self.kazooTree)

            let from = try #require(zk.backend.url(zk.namespace)), to = try #require(etcd.backend.url(etcd.namespace))
            let migrated = try await coord.run(["migrate", "--from", from, "--to", to, "--verify"])
            #expect(migrated.status == 0, "\(migrated.stderr)")
            #expect(migrated.stdoutText.contains("copied \(expected.count) keys"), "\(migrated.stdoutText)")
            #expect(migrated.stdoutText.contains(": identical"), "\(migrated.stdoutText)")

            let read = try await Self.etcd3gwRead(under: etcd.namespace)
            #expect(Set(read.keys) == Set(expected.keys), "missing: \(Set(expected.keys).subtracting(read.keys).sorted()), extra: \(Set(read.keys).subtracting(expected.keys).sorted())")
            for (path, value) in expected {
                #expect(read[path] == value, "bytes of \(path): etcd3gw read \(read[path]?.count ?? -1), kazoo wrote \(value.count)")
            }
        }
    }

    // MARK: - A migration killed half way

    @Test("coord migrate SIGKILLed half way, then run again, completes with --verify clean and sequential keys after the copied ones")
    func killedMigrationResumes() async throws {
        try await Self.withZooKeeperAndEtcd { zk, etcd in
            let coord = try CoordProcess()
            defer { coord.removeDirectory() }
            let source = try await zk.open()
            try await MigrationServerTests.fill(source, count: 3000)
            let sourceCount = try await MigrationServerTests.contents(source).count
            let target = try await etcd.open()
            // The kill comes from what the target receives: a watch counts the copied keys.
            let copied = target.watch(.root, scope: .subtree)
            let from = try #require(zk.backend.url(zk.namespace)), to = try #require(etcd.backend.url(etcd.namespace))
            // One key per write, one write at a time, so that the kill lands while most keys are still to be copied.
            let first = try await Background(
                coord, ["migrate", "--from", from, "--to", to, "--concurrency", "1", "--batch-size", "1"], name: "migrate-1")
            var seen = 0
            for try await event in copied {
                switch event {
                case .snapshot(let records): seen += records.count
                case .put: seen += 1
                case .delete: break
                }
                if seen >= 300 { break }
            }
            kill(first.process.processIdentifier, SIGKILL)
            _ = await ChildProcessWait.exit(of: first.process)
            #expect(first.process.terminationReason == .uncaughtSignal, "the first run ended before the kill: \(first.stderr)")
            let partial = try await MigrationServerTests.contents(target).count
            #expect(partial >= 300 && partial < sourceCount, "\(partial) of \(sourceCount) keys copied before the kill")

            let second = try await coord.run(["migrate", "--from", from, "--to", to, "--verify"])
            #expect(second.status == 0, "\(second.stderr)")
            #expect(second.stdoutText.contains(": identical"), "\(second.stdoutText)")
            #expect(try await MigrationServerTests.contents(target) == (try await MigrationServerTests.contents(source)))
            try await MigrationServerTests.expectSequentialAfter(target, "etcd after a killed migration was run again")
        }
    }

    // MARK: - A scheduler moved from ZooKeeper to etcd

    static func nowMillis() -> Double { Double(SchedulerAcceptanceTests.nowNanos()) / 1e6 }

    /// Every record under `key`, by key.
    static func contents(_ store: any CoordinationStore, under key: Key) async throws -> [Key: [UInt8]] {
        Dictionary(uniqueKeysWithValues: try await store.records(under: key).map { ($0.key, $0.value) })
    }

    /// SIGTERM to every worker at once (they drain); their exit statuses.
    static func stop(_ workers: [Background]) async -> [Int32] {
        await withTaskGroup(of: Int32.self) { group in
            for worker in workers { group.addTask { await worker.terminate() } }
            return await group.reduce(into: []) { $0.append($1) }
        }
    }

    @Test("a scheduler with live jobs on ZooKeeper moved to etcd (stop workers, migrate, start workers on etcd): no job lost, history intact, cron continues")
    func schedulerMovedToEtcd() async throws {
        try await Self.withZooKeeperAndEtcd { zk, etcd in
            let coord = try CoordProcess()
            defer { coord.removeDirectory() }
            var everyWorker: [Background] = []
            defer { SchedulerAcceptanceTests.killAll(everyWorker) }
            let zkURL = try #require(zk.backend.url(zk.namespace, ttl: zk.ttl))
            let etcdURL = try #require(etcd.backend.url(etcd.namespace, ttl: etcd.ttl))
            let zkStore = try await zk.open()
            let history = try Key("/scheduler/history")

            // Jobs: a cron job every second, one-shots any worker runs at once, and one-shots only
            // a worker labelled store=etcd may run: they stay pending on ZooKeeper.
            let sink = coord.directory.appendingPathComponent("sink.txt").path
            let command = "echo \"$COORD_JOB_ID $COORD_RUN_ID $COORD_WORKER_ID\" >> '\(sink)'"
            let done = ["d1", "d2", "d3"], pending = ["p1", "p2", "p3"]
            var additions = [["job", "add", "tick", "--cron", "* * * * * *", "--command", command]]
            additions += done.map { ["job", "add", $0, "--command", command] }
            additions += pending.map { ["job", "add", $0, "--command", command, "--labels", "store=etcd"] }
            for arguments in additions {
                let added = try await coord.run(["--store", zkURL] + arguments)
                try #require(added.status == 0, "\(added.stderr)")
            }

            let zkWorkers = try await Background.each(["w1", "w2"], coord) { ["--store", zkURL, "worker", "--id", $0] }
            everyWorker += zkWorkers
            let beforeMove = try await SchedulerAcceptanceTests.watchHistory(in: zkStore, limit: .seconds(20)) { entries in
                let succeeded = entries.filter { $0.outcome == "succeeded" }
                return Set(succeeded.map(\.job)).isSuperset(of: done) && succeeded.count { $0.job == "tick" } >= 3
            }
            try #require(
                beforeMove.count { $0.job == "tick" && $0.outcome == "succeeded" } >= 3,
                "ZooKeeper history before the move: \(beforeMove)")
            #expect(await Self.stop(zkWorkers) == [0, 0], "\(zkWorkers.map(\.stderr))")

            // What ZooKeeper holds once its workers are gone: the history, and the runs still to do.
            let zkHistory = try await Self.contents(zkStore, under: history)
            for job in pending {
                let runs = try await zkStore.records(under: try SchedulerLayout().runs(of: job)).map { String(decoding: $0.value, as: UTF8.self) }
                #expect(runs.filter { $0.contains(#""status":"pending""#) }.count == 1, "\(job) on ZooKeeper: \(runs)")
            }

            let migrated = try await coord.run(["migrate", "--from", zkURL, "--to", etcdURL, "--verify"])
            try #require(migrated.status == 0, "\(migrated.stderr)")
            #expect(migrated.stdoutText.contains(": identical"), "\(migrated.stdoutText)")

            let etcdStore = try await etcd.open()
            let movedAt = Self.nowMillis()
            let etcdWorkers = try await Background.each(["e1", "e2"], coord) { ["--store", etcdURL, "worker", "--id", $0, "--labels", "store=etcd"] }
            everyWorker += etcdWorkers
            let afterMove = try await SchedulerAcceptanceTests.watchHistory(in: etcdStore, limit: .seconds(20)) { entries in
                let succeeded = entries.filter { $0.outcome == "succeeded" }
                return Set(succeeded.map(\.job)).isSuperset(of: pending)
                    && succeeded.count { $0.job == "tick" && ($0.scheduledAt ?? 0) > movedAt } >= 3
            }
            #expect(await Self.stop(etcdWorkers) == [0, 0], "\(etcdWorkers.map(\.stderr))")

            // History intact: every entry made on ZooKeeper is on etcd, byte for byte, and the
            // entries made on etcd sort after them (the sequence counters were carried forward).
            let etcdHistory = try await Self.contents(etcdStore, under: history)
            for (key, value) in zkHistory {
                #expect(etcdHistory[key] == value, "history entry \(key) made on ZooKeeper")
            }
            for (key, _) in etcdHistory where zkHistory[key] == nil && key.name.hasPrefix("h-") {
                let older = zkHistory.keys.filter { $0.parent == key.parent && $0.name.hasPrefix("h-") }.map(\.name)
                #expect(older.allSatisfy { $0.utf8.lexicographicallyPrecedes(key.name.utf8) }, "\(key) sorts after \(older.max() ?? "nothing")")
            }

            // Every job ran exactly once, where it should have: done ones on ZooKeeper, pending ones on etcd.
            let runs = SchedulerAcceptanceTests.lines(sink).filter { $0.count == 3 }
            for job in done + pending {
                let mine = runs.filter { $0[0] == job }
                let workers = pending.contains(job) ? ["e1", "e2"] : ["w1", "w2"]
                #expect(mine.count == 1 && workers.contains(String(mine.first?[2] ?? "")), "\(job) ran: \(mine)")
            }
            let succeeded = afterMove.filter { $0.outcome == "succeeded" }
            for job in done + pending {
                #expect(succeeded.count { $0.job == job } == 1, "\(job): \(succeeded.filter { $0.job == job })")
            }

            // Cron continued: new fire times on etcd, no run and no fire time twice.
            let ticks = runs.filter { $0[0] == "tick" }
            #expect(Set(ticks.map { $0[1] }).count == ticks.count, "a tick run ran twice: \(ticks)")
            let fireTimes = succeeded.filter { $0.job == "tick" }.compactMap(\.scheduledAt)
            #expect(Set(fireTimes).count == fireTimes.count, "a fire time ran twice: \(fireTimes.sorted())")
            #expect(fireTimes.count { $0 > movedAt } >= 3)
            #expect(ticks.contains { $0[2].hasPrefix("w") } && ticks.contains { $0[2].hasPrefix("e") })

            // coord jobs and coord runs on etcd show all of it.
            let jobs = try await coord.run(["--store", etcdURL, "jobs", "--json"])
            #expect(jobs.status == 0, "\(jobs.stderr)")
            let ids = jobs.stdoutText.split(separator: "\n").compactMap {
                (try? JSONSerialization.jsonObject(with: Data($0.utf8)) as? [String: Any])?["id"] as? String
            }
            #expect(Set(ids) == Set(["tick"] + done + pending), "\(jobs.stdoutText)")
            for (job, worker) in [("d1", "\"worker\":\"w"), ("p1", "\"worker\":\"e"), ("tick", "\"worker\":\"w"), ("tick", "\"worker\":\"e")] {
                let shown = try await coord.run(["--store", etcdURL, "runs", job, "--json"])
                #expect(shown.status == 0 && shown.stdoutText.contains(#""status":"succeeded""#) && shown.stdoutText.contains(worker), "coord runs \(job): \(shown.stdoutText)")
            }
        }
    }
}
