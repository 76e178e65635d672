import Coordination
import CoordinationLocalServers
import CoordinationTestSupport
import Foundation
import Logging
import Testing
@testable import CoordinationCLI

/// `coord migrate` as a process: errors before any I/O, help, and real ZooKeeper ↔ etcd runs.
@Suite("coord migrate", .serverLoadLimit)
struct MigrateCommandTests {
    @Test("a malformed --from URL is one line naming the flag, status 7")
    func badURL() async throws {
        let coord = try CoordProcess()
        defer { coord.removeDirectory() }
        let result = try await coord.run(["migrate", "--from", "zookeeper:/nope", "--to", "etcd://127.0.0.1:2379"])
        #expect(result.status == 7)
        #expect(result.stderrLines.count == 1)
        #expect(result.stderr.hasPrefix("coord: store URL 'zookeeper:/nope' lacks the '//' after 'zookeeper:'; write zookeeper://…"))
        #expect(result.stderr.contains("(from --from)"))
    }

    @Test("an unknown scheme in --to lists the known ones, status 7")
    func unknownScheme() async throws {
        let coord = try CoordProcess()
        defer { coord.removeDirectory() }
        let result = try await coord.run(["migrate", "--from", "memory://", "--to", "consul://127.0.0.1:8500"])
        #expect(result.status == 7)
        #expect(result.stderrLines.count == 1)
        #expect(result.stderr.contains("unknown store scheme 'consul' in --to"))
        #expect(result.stderr.contains("zookeeper://"))
    }

    @Test("the same store with overlapping subtrees is refused before any I/O, status 7")
    func sameStore() async throws {
        let coord = try CoordProcess()
        defer { coord.removeDirectory() }
        // Nothing listens on port 1: the refusal comes before any connection attempt.
        let result = try await coord.run([
            "migrate", "--from", "etcd://127.0.0.1:1/app", "--to", "etcd://127.0.0.1:1/app/copy",
        ])
        #expect(result.status == 7)
        #expect(result.stderrLines.count == 1)
        #expect(result.stderr.contains("same store"))
    }

    @Test("an unreachable target names the side, status 9")
    func unreachable() async throws {
        let coord = try CoordProcess()
        defer { coord.removeDirectory() }
        let result = try await coord.run(["migrate", "--from", "memory://", "--to", "etcd://127.0.0.1:1/app"])
        #expect(result.status == 9)
        #expect(result.stderrLines.count == 1)
        #expect(result.stderr.hasPrefix("coord: cannot open the target store etcd://127.0.0.1:1/app"))
    }

    /// It used to give up quietly, and the migration's own open then waited the whole timeout again.
    @Test("a target that accepts and never answers is waited for once: the look at its namespace fails as the open would")
    func silentTargetWaitedOnce() async throws {
        let silent = try LoopbackListener()
        let url = try StoreURL("etcd://127.0.0.1:\(silent.port)/app?timeout=1s")
        do {
            _ = try await NamespaceRestorer.before(opening: url, role: "target", logger: Logger(label: "test.migrate"))
            Issue.record("the look at a silent target's namespace did not fail")
        } catch let error as CoordinationError {
            #expect(NamespaceRestorer.failsEveryOpen(error.code), "\(error)")
            #expect(error.message.hasPrefix("cannot open the target store \(url)"), "\(error.message)")
        }
    }

    @Test("--follow with --dry-run is a usage error, status 64")
    func followDryRun() async throws {
        let coord = try CoordProcess()
        defer { coord.removeDirectory() }
        let result = try await coord.run(["migrate", "--from", "memory://a", "--to", "memory://b", "--follow", "--dry-run"])
        #expect(result.status == 64)
        #expect(result.stderr.contains("--follow"))
    }

    @Test("--help explains the flags with examples")
    func help() async throws {
        let coord = try CoordProcess()
        defer { coord.removeDirectory() }
        let result = try await coord.run(["migrate", "--help"])
        #expect(result.status == 0)
        for text in ["--from", "--to", "--prefix", "--dry-run", "--verify", "--follow", "EXAMPLES", "coord migrate --from $ZK --to $ETCD --verify"] {
            #expect(result.stdoutText.contains(text), "help mentions \(text)")
        }
        let root = try await coord.run(["--help"])
        #expect(root.stdoutText.contains("migrate"))
    }

    @Test("--namespace, before or after migrate, is a usage error naming it, status 64: the namespaces go in the URLs")
    func namespaceFlagRefused() async throws {
        let coord = try CoordProcess()
        defer { coord.removeDirectory() }
        for arguments in [
            ["--namespace", "/review-ns1", "migrate", "--from", "memory://a", "--to", "memory://b", "--dry-run"],
            ["migrate", "--from", "memory://a", "--to", "memory://b", "--namespace", "/review-ns1"],
        ] {
            let result = try await coord.run(arguments)
            #expect(result.status == 64, "\(arguments): \(result.stderr)")
            #expect(result.stdout.isEmpty)
            #expect(result.stderrLines.count == 1, "\(result.stderr)")
            #expect(result.stderr.hasPrefix("coord: --namespace /review-ns1 does not apply to coord migrate"), "\(result.stderr)")
            #expect(result.stderr.contains("put the namespaces in the --from and --to URLs"), "\(result.stderr)")
        }
    }

    @Test("COORD_NAMESPACE is a bad setting naming the variable, status 7; a config file's namespace is ignored")
    func namespaceFromEnvironmentRefused() async throws {
        let fromEnvironment = try CoordProcess(environment: ["COORD_NAMESPACE": "/review-ns1"])
        defer { fromEnvironment.removeDirectory() }
        let refused = try await fromEnvironment.run(["migrate", "--from", "memory://a", "--to", "memory://b", "--dry-run"])
        #expect(refused.status == 7, "\(refused.stderr)")
        #expect(refused.stderrLines.count == 1, "\(refused.stderr)")
        #expect(refused.stderr.hasPrefix("coord: COORD_NAMESPACE=/review-ns1 (from the environment) does not apply to coord migrate"), "\(refused.stderr)")

        let withFile = try CoordProcess()
        defer { withFile.removeDirectory() }
        _ = try withFile.write(#"{"namespace": "/review-ns1"}"#, to: "coord.json")
        let ignored = try await withFile.run(["migrate", "--from", "memory://a", "--to", "memory://b"])
        #expect(ignored.status == 0, "\(ignored.stderr)")
        #expect(ignored.stdoutText.contains("copied 0 keys"), "\(ignored.stdoutText)")
    }

    @Test("between two in-process stores: nothing to copy, a summary, notes saying why, status 0")
    func memoryToMemory() async throws {
        let coord = try CoordProcess()
        defer { coord.removeDirectory() }
        let result = try await coord.run(["migrate", "--from", "memory://a", "--to", "memory://b", "--verify"])
        #expect(result.status == 0)
        #expect(result.stdoutText.contains("copied 0 keys"))
        #expect(result.stdoutText.contains("verify: 0 keys on the source"))
        #expect(result.stderrLines == [
            "coord: note: --from memory:// is empty: the embedded store lives only inside one coord process",
            "coord: note: --to memory:// keeps nothing: the copy goes when this coord process ends",
        ])
    }

    /// A few keys on ZooKeeper under a fresh namespace, and a fresh etcd namespace.
    static func withServers(
        _ body: (_ zookeeper: TestHandles, _ etcd: TestHandles, _ source: any CoordinationStore) async throws -> Void,
        test: String = #function
    ) async throws {
        let zk = try TestHandles(.zookeeper, test: test)
        let etcd = try TestHandles(.etcd, test: test)
        try await TestHandles.closing(zk, etcd) {
            let source = try await zk.open()
            for i in 0..<50 { _ = try await source.create(try Key("/app/k\(i % 5)/v\(i)"), value: [UInt8(i), 0, 255]) }
            _ = try await source.create(try Key("/app/q/job-"), value: [], mode: .sequential)
            _ = try await source.create(try Key("/app/live"), value: [], mode: .ephemeral)
            try await body(zk, etcd, source)
        }
    }

    /// ``withServers(_:test:)``, the tree copied to etcd by `coord migrate`, then `/app/k3/v8`
    /// changed on the target: `body` gets the coord, both URLs and the target.
    static func withACopyChangedOnTheTarget(
        _ body: (_ coord: CoordProcess, _ from: String, _ to: String, _ target: any CoordinationStore) async throws -> Void,
        test: String = #function
    ) async throws {
        try await withServers({ zk, etcd, _ in
            let coord = try CoordProcess()
            defer { coord.removeDirectory() }
            let from = zk.backend.url(zk.namespace)!
            let to = etcd.backend.url(etcd.namespace)!
            #expect(try await coord.run(["migrate", "--from", from, "--to", to]).status == 0)
            let target = try await etcd.open()
            _ = try await target.set(try Key("/app/k3/v8"), value: Array("changed".utf8))
            try await body(coord, from, to, target)
        }, test: test)
    }

    @Test("ZooKeeper → etcd with --verify: summary with counts and rate, verify identical, status 0; --dry-run then writes nothing")
    func zookeeperToEtcd() async throws {
        try await Self.withServers { zk, etcd, _ in
            let coord = try CoordProcess()
            defer { coord.removeDirectory() }
            let from = zk.backend.url(zk.namespace)!
            let to = etcd.backend.url(etcd.namespace)!
            let dry = try await coord.run(["migrate", "--from", from, "--to", to, "--dry-run"])
            #expect(dry.status == 0, "\(dry.stderr)")
            #expect(dry.stdoutText.contains("dry run: would copy 58 keys"), "\(dry.stdoutText)")
            let target = try await etcd.open()
            #expect(try await target.records(under: .root).isEmpty)

            let result = try await coord.run(["migrate", "--from", from, "--to", to, "--verify"])
            #expect(result.status == 0, "\(result.stderr)")
            #expect(result.stdoutText.contains("copied 58 keys, skipped 0 identical and 1 ephemeral"), "\(result.stdoutText)")
            #expect(result.stdoutText.contains("keys/s"))
            #expect(result.stdoutText.contains(": identical"))

            let again = try await coord.run(["migrate", "--from", from, "--to", to, "--prefix", "/app/k1"])
            #expect(again.status == 0, "\(again.stderr)")
            #expect(again.stdoutText.contains("copied 0 keys, skipped 11 identical"), "\(again.stdoutText)")
            #expect(!again.stderr.contains("note:"), "\(again.stderr)")

            let nothing = try await coord.run(["migrate", "--from", from, "--to", to, "--prefix", "/app/nokey"])
            #expect(nothing.status == 2, "\(nothing.stderr)")
            #expect(nothing.stderrLines == ["coord: --prefix /app/nokey does not exist on the source \(from)"])
            #expect(nothing.stdout.isEmpty)
        }
    }

    @Test("--verify --dry-run finds a changed key: lists it, one line on stderr, status 1")
    func verifyFindsDifference() async throws {
        try await Self.withACopyChangedOnTheTarget { coord, from, to, target in

            let result = try await coord.run(["migrate", "--from", from, "--to", to, "--verify", "--dry-run"])
            #expect(result.status == 1)
            #expect(result.stdoutText.contains(": 1 difference\n"))
            #expect(result.stdoutText.contains("different value: /app/k3/v8 (source 3 bytes, target 7 bytes)"))
            #expect(result.stderrLines == ["coord: verification found 1 difference between \(from) and \(to)"])
            #expect(try await target.get(try Key("/app/k3/v8"))?.value == Array("changed".utf8), "--dry-run wrote nothing")
        }
    }

    @Test("--follow copies, announces, and after SIGINT catches up and verifies, status 0")
    func follow() async throws {
        try await Self.withServers { zk, etcd, _ in
            let coord = try CoordProcess()
            defer { coord.removeDirectory() }
            let from = zk.backend.url(zk.namespace)!
            let to = etcd.backend.url(etcd.namespace)!
            // A key only the target has: the catch-up deletes it (the target becomes a mirror), which is no lag.
            let target = try await etcd.open()
            _ = try await target.create(try Key("/app/only-on-target"), value: [1])
            let result = try await coord.run(["migrate", "--from", from, "--to", to, "--follow"], interruptAfterFirstLine: true)
            #expect(result.status == 0, "\(result.stderr)")
            let lines = result.stdoutText.split(separator: "\n").map(String.init)
            #expect(lines.first?.hasPrefix("following changes under /") == true, "\(lines)")
            #expect(result.stdoutText.contains("lag at stop: 0 keys behind (0 copied, 0 deleted in the catch-up, "), "\(result.stdoutText)")
            #expect(result.stdoutText.contains("; also deleted 1 key that only the target had, to make it a mirror\n"), "\(result.stdoutText)")
            #expect(result.stdoutText.contains(": identical"))
            #expect(try await target.get(try Key("/app/k2/v7"))?.value == [7, 0, 255])
            #expect(try await target.get(try Key("/app/only-on-target")) == nil)
        }
    }

    @Test("--follow on a terminal keeps following: a key put on the source after the announcement reaches the target")
    func followOnATerminal() async throws {
        // script(1) gives coord a terminal for its stdout and stderr (where the progress line is
        // redrawn in place and no heartbeat runs); it is part of every Debian (bsdutils).
        let script = "/usr/bin/script"
        try #require(FileManager.default.isExecutableFile(atPath: script), "script(1) is needed")
        try await Self.withServers { zk, etcd, source in
            let from = zk.backend.url(zk.namespace)!
            let to = etcd.backend.url(etcd.namespace)!
            let command = [CoordProcess.binary.path, "migrate", "--from", from, "--to", to, "--follow"].map { "'\($0)'" }.joined(separator: " ")
            let terminal = try await LineProcess(script, ["-qfec", command, "/dev/null"])
            defer { terminal.stop() }
            var line = ""
            while !line.contains("following changes under") { line = try await terminal.nextLine(within: .seconds(30)) }
            // Still following: a change made now is mirrored.
            let target = try await etcd.open()
            let late = try Key("/app/late")
            try await withDeadline("the late key on the target", limit: .seconds(20)) {
                var watching = target.watch(late).makeAsyncIterator()
                _ = try await source.create(late, value: [42])
                while let event = try await watching.next() {
                    if case .snapshot(let records) = event, records.first?.value == [42] { return }
                    if case .put(let record) = event, record.value == [42] { return }
                }
            }
        }
    }

    // MARK: - One store under two names

    /// `url` with its host 127.0.0.1 spelled `localhost` (the same server, another name).
    static func viaLocalhost(_ url: String) throws -> String {
        let renamed = url.replacingOccurrences(of: "127.0.0.1", with: "localhost")
        try #require(renamed != url, "the test servers are addressed as 127.0.0.1: \(url)")
        return renamed
    }

    /// Runs `body` with a fresh namespace on `backend` holding `/a/b` = [1, 2], a coord to run,
    /// the namespace's URL and the namespace.
    static func withKeyAB(
        on backend: TestBackend, test: String,
        _ body: (_ store: any CoordinationStore, _ coord: CoordProcess, _ url: String, _ namespace: Key) async throws -> Void
    ) async throws {
        let handles = try TestHandles(backend, test: "\(test)-\(backend.name)")
        try await TestHandles.closing(handles) {
            let store = try await handles.open()
            _ = try await store.create(try Key("/a/b"), value: [1, 2])
            let coord = try CoordProcess()
            defer { coord.removeDirectory() }
            try await body(store, coord, try #require(backend.url(handles.namespace)), handles.namespace)
        }
    }

    @Test(
        "one store as 127.0.0.1 and as localhost with overlapping subtrees is refused (a marker check), status 7, nothing copied; a dry run is not checked and writes nothing; disjoint namespaces are copied",
        arguments: [TestBackend.etcd, .zookeeper])
    func sameStoreUnderTwoNames(_ backend: TestBackend) async throws {
        try await Self.withKeyAB(on: backend, test: "sameStoreUnderTwoNames") { store, coord, viaAddress, _ in
            let viaName = try Self.viaLocalhost(viaAddress) + "/copy"
            for (from, to) in [(viaAddress, viaName), (viaName, viaAddress)] {
                let result = try await coord.run(["migrate", "--from", from, "--to", to])
                #expect(result.status == 7, "\(from) → \(to): \(result.stderr)")
                #expect(result.stdout.isEmpty)
                #expect(result.stderrLines.count == 1, "\(result.stderr)")
                #expect(result.stderr.hasPrefix("coord: --from \(from) and --to \(to) reach the same store"), "\(result.stderr)")
                #expect(result.stderr.contains("the copy would go into itself"), "\(result.stderr)")
            }
            // Overlapping through --prefix alone: the same namespace, two names.
            let samePrefix = try await coord.run(["migrate", "--from", viaAddress, "--to", try Self.viaLocalhost(viaAddress), "--prefix", "/a"])
            #expect(samePrefix.status == 7, "\(samePrefix.stderr)")
            // Nothing was copied, no marker is left, and the namespace key that opening --to made is gone.
            #expect(try await store.children(of: .root) == ["a"])

            let dry = try await coord.run(["migrate", "--from", viaAddress, "--to", viaName, "--dry-run"])
            #expect(dry.status == 0, "\(dry.stderr)")
            // /copy exists while the run reads (opening --to made it), and is gone afterwards.
            #expect(dry.stdoutText.contains("dry run: would copy 3 keys"), "/a, /a/b and /copy: \(dry.stdoutText)")
            #expect(try await store.children(of: .root) == ["a"])

            let apart = try await coord.run([
                "migrate", "--from", viaAddress + "/a", "--to", try Self.viaLocalhost(viaAddress) + "/elsewhere", "--verify",
            ])
            #expect(apart.status == 0, "\(apart.stderr)")
            #expect(try await store.get(try Key("/elsewhere/b"))?.value == [1, 2])
        }
    }


    @Test("two members of one etcd cluster with overlapping subtrees are one store: refused, status 7", .etcdBinary)
    func sameEtcdClusterTwoMembers() async throws {
        let cluster = EtcdCluster(size: 2, folderPrefix: "coord-migrate-members-")
        defer { cluster.stopAll() }
        for member in cluster.members { try await cluster.start(member) }
        try await cluster.waitUntilServing()
        let coord = try CoordProcess()
        defer { coord.removeDirectory() }
        let first = "etcd://\(cluster.endpoints[0])/app", second = "etcd://\(cluster.endpoints[1])/app/copy"
        let refused = try await coord.run(["migrate", "--from", first, "--to", second])
        #expect(refused.status == 7, "\(refused.stderr)")
        #expect(refused.stderr.hasPrefix("coord: --from \(first) and --to \(second) reach the same store"), "\(refused.stderr)")
    }

    // MARK: - Ephemeral keys on the target

    @Test("a live session's ephemeral key on a ZooKeeper target is never overwritten: the keys at and beneath it are listed as not copied, status 1; --verify reports them; a run after the session copies them")
    func ephemeralOnTarget() async throws {
        let etcd = try TestHandles(.etcd)
        let zk = try TestHandles(.zookeeper)
        try await TestHandles.closing(etcd, zk) {
            let source = try await etcd.open()
            // A sequential name beneath the held key: no counter can be moved under an ephemeral key.
            for (path, value) in [("/app/k1/v1", "persistent"), ("/app/held/job-0000000007", "below"), ("/app/ok", "fine")] {
                _ = try await source.create(try Key(path), value: Array(value.utf8))
            }
            let owner = try await zk.open()
            _ = try await owner.create(try Key("/app/k1/v1"), value: Array("mine".utf8), mode: .ephemeral)
            _ = try await owner.create(try Key("/app/held"), value: Array("lock".utf8), mode: .ephemeral)
            let coord = try CoordProcess()
            defer { coord.removeDirectory() }
            let from = try #require(etcd.backend.url(etcd.namespace)), to = try #require(zk.backend.url(zk.namespace))

            let result = try await coord.run(["migrate", "--from", from, "--to", to])
            #expect(result.status == 1, "\(result.stderr)")
            #expect(result.stdoutText.contains("not copied: 3 keys, held by ephemeral keys of live sessions on the target"), "\(result.stdoutText)")
            for path in ["/app/held", "/app/held/job-0000000007", "/app/k1/v1"] {
                #expect(result.stdoutText.contains(path), "\(path) listed: \(result.stdoutText)")
            }
            #expect(result.stderrLines.count == 1, "\(result.stderr)")
            #expect(result.stderr.hasPrefix("coord: 3 keys were not copied: the target holds ephemeral keys of live sessions at or above them ("), "\(result.stderr)")
            let kept = try #require(try await owner.get(try Key("/app/k1/v1")))
            #expect(kept.isEphemeral && kept.value == Array("mine".utf8) && kept.version == 0)
            #expect(try await owner.get(try Key("/app/ok"))?.value == Array("fine".utf8))

            let verify = try await coord.run(["migrate", "--from", from, "--to", to, "--verify", "--dry-run"])
            #expect(verify.status == 1, "\(verify.stderr)")
            #expect(verify.stdoutText.contains("ephemeral on target (a live session's key, never overwritten): /app/k1/v1"), "\(verify.stdoutText)")
            #expect(verify.stdoutText.contains("ephemeral on target (a live session's key, never overwritten): /app/held"), "\(verify.stdoutText)")
            #expect(verify.stdoutText.contains("missing on target: /app/held/job-0000000007"), "\(verify.stdoutText)")

            // The session ends, and its ephemeral keys with it, once the server has closed it
            // (close() returns before): wait for the deletion through a watch.
            let observer = try await zk.open()
            let gone = observer.watch(try Key("/app/held"))
            await owner.close()
            try await withDeadline("the closed session's ephemeral key to go") {
                for try await event in gone {
                    if case .delete = event { return }
                    if case .snapshot(let records) = event, records.isEmpty { return }
                }
            }
            let after = try await coord.run(["migrate", "--from", from, "--to", to, "--verify"])
            #expect(after.status == 0, "\(after.stderr)")
            #expect(after.stdoutText.contains(": identical"), "\(after.stdoutText)")
        }
    }

    // MARK: - Interrupted

    /// `count` keys /app/k0… on `store`, 64 to a transaction.
    static func fillFlat(_ store: any CoordinationStore, count: Int) async throws {
        _ = try await store.create(try Key("/app"), value: [])
        for start in stride(from: 0, to: count, by: 64) {
            _ = try await store.transaction(try (start..<min(count, start + 64)).map {
                .create(try Key("/app/k\($0)"), value: Array("value \($0)".utf8), mode: .persistent)
            })
        }
    }

    /// How many children `/app` has on `store` (none before it exists).
    static func copiedCount(_ store: any CoordinationStore) async -> Int {
        (try? await store.children(of: try Key("/app")).count) ?? 0
    }

    /// Waits for `process` to exit (killed after `limit`, so a hang fails the test).
    static func exit(of process: Process, limit: Duration = .seconds(60)) async -> (reason: Process.TerminationReason, status: Int32) {
        let watchdog = Task {
            try await Task.sleep(for: limit)
            if process.isRunning { kill(process.processIdentifier, SIGKILL) }
        }
        defer { watchdog.cancel() }
        return await withCheckedContinuation { continuation in
            Thread {
                process.waitUntilExit()
                continuation.resume(returning: (process.terminationReason, process.terminationStatus))
            }.start()
        }
    }

    /// The number after `prefix` in `text`.
    static func number(after prefix: String, in text: String) -> Int? {
        guard let range = text.range(of: prefix) else { return nil }
        return Int(text[range.upperBound...].prefix { $0.isNumber })
    }

    @Test("the target etcd killed mid-copy: status 9, the keys copied so far and that running again resumes; it does", .etcdBinary)
    func targetLostMidCopy() async throws {
        let zk = try TestHandles(.zookeeper)
        try await TestHandles.closing(zk) {
            try await Self.fillFlat(try await zk.open(), count: 1500)
            let cluster = EtcdCluster(size: 1, folderPrefix: "coord-migrate-lost-")
            defer { cluster.stopAll() }
            let member = cluster.members[0]
            try await cluster.start(member)
            try await cluster.waitUntilServing()
            let coord = try CoordProcess()
            defer { coord.removeDirectory() }
            let from = try #require(zk.backend.url(zk.namespace)), to = "etcd://\(cluster.endpoints[0])/moved"
            let target = try await CommandContext.registry.open(try StoreURL(to), logger: Logger(label: "test.migrate"))
            // One key per write, one write at a time, so that the kill lands while most keys are still to be copied.
            let migrate = try await SchedulerProcessTests.Background(
                coord, ["migrate", "--from", from, "--to", to, "--concurrency", "1", "--batch-size", "1"], name: "migrate")
            while await Self.copiedCount(target) < 100 && migrate.process.isRunning {
                try await Task.sleep(for: .milliseconds(20))  // polls the target: no event says how far a copy is
            }
            let seen = await Self.copiedCount(target)
            await target.close()
            await cluster.stop(member, kill: true)
            let ended = await Self.exit(of: migrate.process)
            #expect(ended.reason == .exit && ended.status == 9, "\(ended), \(migrate.stderr)")
            let line = try #require(migrate.stderr.split(separator: "\n").last.map(String.init))
            #expect(line.hasPrefix("coord: the migration's create of /app/k"), "\(line)")
            #expect(line.contains(" identical) before this; run the same command again to finish: it resumes"), "\(line)")
            let copied = try #require(Self.number(after: "the migration had copied ", in: line))
            #expect(copied >= seen - 1 && copied < 1501, "\(copied) reported, \(seen) seen on the target before the kill")

            try await cluster.start(member)
            try await cluster.waitUntilServing()
            let again = try await coord.run(["migrate", "--from", from, "--to", to, "--verify"])
            #expect(again.status == 0, "\(again.stderr)")
            let identical = try #require(Self.number(after: "skipped ", in: again.stdoutText), "\(again.stdoutText)")
            #expect(identical >= copied, "\(again.stdoutText)")
            #expect(again.stdoutText.contains(": identical"), "\(again.stdoutText)")
        }
    }

    @Test(
        "SIGINT or SIGTERM mid-copy: one line with the keys copied so far and that running again resumes, then death by that signal; running again finishes",
        arguments: [SIGINT, SIGTERM])
    func interruptedBySignal(_ signal: Int32) async throws {
        let zk = try TestHandles(.zookeeper, test: "interruptedBySignal-\(signal)")
        let etcd = try TestHandles(.etcd, test: "interruptedBySignal-\(signal)")
        try await TestHandles.closing(zk, etcd) {
            try await Self.fillFlat(try await zk.open(), count: 1500)
            let target = try await etcd.open()
            let coord = try CoordProcess()
            defer { coord.removeDirectory() }
            let from = try #require(zk.backend.url(zk.namespace)), to = try #require(etcd.backend.url(etcd.namespace))
            let migrate = try await SchedulerProcessTests.Background(
                coord, ["migrate", "--from", from, "--to", to, "--concurrency", "1", "--batch-size", "1"], name: "migrate")
            while await Self.copiedCount(target) < 50 && migrate.process.isRunning {
                try await Task.sleep(for: .milliseconds(20))  // polls the target: no event says how far a copy is
            }
            kill(migrate.process.processIdentifier, signal)
            let ended = await Self.exit(of: migrate.process)
            #expect(ended.reason == .uncaughtSignal && ended.status == signal, "\(ended), \(migrate.stderr)")
            let name = signal == SIGINT ? "SIGINT" : "SIGTERM"
            // Off a terminal a progress line comes every 5 s, and a loaded machine may copy the
            // first 50 keys that slowly: those aside, one line.
            let phases = ["reading source: ", "reading target: ", "writing: ", "sequence counters: "]
            let lines = migrate.stderr.split(separator: "\n").map(String.init).filter { line in !phases.contains { line.hasPrefix($0) } }
            #expect(lines.count == 1, "\(migrate.stderr)")
            let line = lines.last ?? ""
            #expect(line.hasPrefix("coord: interrupted by \(name): "), "\(line)")
            #expect(line.hasSuffix(" persistent keys read from the source); run the same command again to finish: it resumes"), "\(line)")
            let copied = try #require(Self.number(after: "interrupted by \(name): ", in: line))
            let onTarget = await Self.copiedCount(target)
            #expect(copied >= 49 && copied <= onTarget + 1, "\(copied) reported, \(onTarget) on the target")

            let again = try await coord.run(["migrate", "--from", from, "--to", to, "--verify"])
            #expect(again.status == 0, "\(again.stderr)")
            #expect(again.stdoutText.contains(": identical"), "\(again.stdoutText)")
        }
    }

    @Test("SIGINT while --verify compares, right after the copy's summary: no verdict on stdout, one line on stderr saying so, death by SIGINT")
    func interruptedWhileVerifying() async throws {
        let zk = try TestHandles(.zookeeper)
        let etcd = try TestHandles(.etcd)
        try await TestHandles.closing(zk, etcd) {
            try await Self.fillFlat(try await zk.open(), count: 1500)
            let coord = try CoordProcess()
            defer { coord.removeDirectory() }
            let from = try #require(zk.backend.url(zk.namespace)), to = try #require(etcd.backend.url(etcd.namespace))
            // One read at a time: the comparison reads the source for long enough that the SIGINT
            // sent when the summary's line arrives lands in it.
            let result = try await coord.run(
                ["migrate", "--from", from, "--to", to, "--verify", "--read-width", "1"], interruptAfterFirstLine: true)
            #expect(result.status == SIGINT, "\(result.status): \(result.stderr)")
            #expect(result.stdoutText.hasPrefix("copied 1501 keys"), "\(result.stdoutText)")
            #expect(!result.stdoutText.contains("verify:"), "no verdict: \(result.stdoutText)")
            #expect(!result.stdoutText.contains("missing on target"), "\(result.stdoutText)")
            // Progress lines may come first (a slow read under load prints where it is); the one
            // message is the interruption.
            let messages = result.stderrLines.filter { $0.hasPrefix("coord:") }
            #expect(messages.count == 1, "\(result.stderr)")
            #expect(messages.first?.hasPrefix("coord: interrupted by SIGINT while verifying") == true, "\(result.stderr)")
        }
    }

    @Test("SIGINT once the summary is printed (no --verify): the copy had finished, so status 0 and nothing about an interruption")
    func signalAfterTheCopy() async throws {
        let zk = try TestHandles(.zookeeper)
        let etcd = try TestHandles(.etcd)
        try await TestHandles.closing(zk, etcd) {
            try await Self.fillFlat(try await zk.open(), count: 200)
            let coord = try CoordProcess()
            defer { coord.removeDirectory() }
            let from = try #require(zk.backend.url(zk.namespace)), to = try #require(etcd.backend.url(etcd.namespace))
            // The SIGINT goes as soon as the summary's line arrives: the process is then closing its stores.
            let result = try await coord.run(["migrate", "--from", from, "--to", to], interruptAfterFirstLine: true)
            #expect(result.status == 0, "\(result.status): \(result.stderr)")
            #expect(result.stdoutText.hasPrefix("copied 201 keys"), "\(result.stdoutText)")
            #expect(!result.stderr.contains("interrupted"), "\(result.stderr)")
        }
    }

    // MARK: - Keys the target cannot hold

    /// Writes `value` at the etcd key `key` (no namespace added) with etcdctl, as another tool
    /// would: none of coord's checks apply.
    static func etcdctlPut(_ key: String, _ value: [UInt8]) async throws {
        let url = try #require(TestBackend.etcd.url(.root))
        let endpoint = try #require(try StoreURL(url).hosts.first)
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/etcdctl")
        process.arguments = ["--endpoints", endpoint, "put", key]  // the value comes on stdin
        process.environment = ["ETCDCTL_API": "3"]
        let input = Pipe()
        process.standardInput = input
        process.standardOutput = FileHandle.nullDevice
        try await ChildProcessLaunch.run(process)
        // Writing a value larger than the pipe holds waits for etcdctl to read it: off the pool.
        try await OwnThread.run {
            defer { try? input.fileHandleForWriting.close() }
            try input.fileHandleForWriting.write(contentsOf: value)
        }
        let status = await ChildProcessWait.exit(of: process).status
        try #require(status == 0, "etcdctl put \(key)")
    }

    /// Checks the outcome of a migration that copied `copied` keys and could not copy `notCopied`
    /// (each path with the start of why): all listed with why, status 6, and one line on stderr
    /// that gives no advice to run again (it would not help).
    static func expectNotCopied(
        _ result: CoordProcess.Result, copied: Int, _ notCopied: [String: String], sourceLocation: SourceLocation = #_sourceLocation
    ) {
        #expect(result.status == 6, "\(result.stderr)", sourceLocation: sourceLocation)
        #expect(result.stdoutText.hasPrefix("copied \(copied) keys, "), "\(result.stdoutText)", sourceLocation: sourceLocation)
        let heading = "\nnot copied: \(notCopied.count) keys that the target cannot hold\n"
        #expect(result.stdoutText.contains(heading), "\(result.stdoutText)", sourceLocation: sourceLocation)
        for (path, why) in notCopied {
            #expect(result.stdoutText.contains("\n  \(path): \(why)"), "\(result.stdoutText)", sourceLocation: sourceLocation)
        }
        #expect(result.stderrLines.count == 1, "\(result.stderr)", sourceLocation: sourceLocation)
        let line = "coord: \(notCopied.count) keys on the source were not copied: the target cannot hold them"
        #expect(result.stderr.hasPrefix(line), "\(result.stderr)", sourceLocation: sourceLocation)
        #expect(!result.stderr.contains("run the same command again"), "\(result.stderr)", sourceLocation: sourceLocation)
    }

    @Test(
        "keys another etcd tool wrote that the target cannot hold (no valid key, a value over the limit) are listed with why and not copied, the others are; status 6 without advice to run again; --verify is never identical",
        .enabled("needs etcdctl") { TestEnvironment.isCI || FileManager.default.isExecutableFile(atPath: "/usr/bin/etcdctl") })
    func keysTheTargetCannotHold() async throws {
        let etcd = try TestHandles(.etcd)
        let zk = try TestHandles(.zookeeper)
        try await TestHandles.closing(etcd, zk) {
            let source = try await etcd.open()
            _ = try await source.create(try Key("/ok/a"), value: [1])
            let raw = etcd.namespace.path
            try await Self.etcdctlPut(raw + "/weird/", [2])
            try await Self.etcdctlPut(raw + "/a//b", [3])
            try await Self.etcdctlPut(raw + "/big", Array(repeating: UInt8(ascii: "x"), count: 1_200_000))
            let coord = try CoordProcess()
            defer { coord.removeDirectory() }
            let from = try #require(etcd.backend.url(etcd.namespace)), to = try #require(zk.backend.url(zk.namespace))

            Self.expectNotCopied(
                try await coord.run(["migrate", "--from", from, "--to", to]), copied: 2,  // /ok and /ok/a
                [
                    "/big": "value for /big is 1200000 bytes; the limit is 1000000 bytes\n",
                    "/weird/": "not a valid key: a key must not end with '/'\n", "/a//b": "not a valid key: empty segment",
                ])
            let target = try await zk.open()
            #expect(try await target.get(try Key("/ok/a"))?.value == [1])
            #expect(try await target.get(try Key("/big")) == nil)

            let verify = try await coord.run(["migrate", "--from", from, "--to", to, "--verify", "--dry-run"])
            #expect(verify.status == 1, "\(verify.stderr)")
            #expect(!verify.stdoutText.contains(": identical"), "\(verify.stdoutText)")
            #expect(verify.stdoutText.contains("  missing on target: /big\n"), "\(verify.stdoutText)")
            #expect(verify.stdoutText.contains("  not a valid key on the source (never copied): /weird/\n"), "\(verify.stdoutText)")

            // Only keys with no valid name left: verify still says so, status 6.
            try await source.delete(try Key("/big"))
            let foreignOnly = try await coord.run(["migrate", "--from", from, "--to", to, "--verify"])
            #expect(foreignOnly.status == 6, "\(foreignOnly.stderr)")
            #expect(foreignOnly.stdoutText.contains("the keys read are identical, but 2 source keys could not be read"), "\(foreignOnly.stdoutText)")
        }
    }

    @Test(
        "ZooKeeper znodes no key can name are listed as not copied (those beneath too), the rest is copied; status 6; --verify is never identical")
    func zookeeperZnodesNoKeyCanName() async throws {
        // The server refuses the characters keys refuse: a name over the length limit, and
        // /zookeeper inside a namespace, are what another client can write.
        let long = "/ok/" + String(repeating: "l", count: CoordinationLimits.maxKeyBytes)
        try await Self.withForeignZnodes([long + "/inner", "/zookeeper"]) { coord, from, to, etcd in
            Self.expectNotCopied(
                try await coord.run(["migrate", "--from", from, "--to", to]), copied: 2,  // /ok and /ok/a
                [
                    long: "not a valid key: it is 1028 bytes long; the limit is 1024 bytes",
                    long + "/inner": "not a valid key: it is 1034 bytes long",
                    "/zookeeper": "not a valid key: '/zookeeper' is reserved",
                ])
            let target = try await etcd.open()
            #expect(try await target.records(under: .root).map { [$0.key.path: $0.value] } == [["/ok": []], ["/ok/a": [1]]])

            let verify = try await coord.run(["migrate", "--from", from, "--to", to, "--verify"])
            #expect(verify.status == 6, "\(verify.stderr)")
            #expect(verify.stdoutText.contains("the keys read are identical, but 3 source keys could not be read"), "\(verify.stdoutText)")
            #expect(verify.stdoutText.contains("  not a valid key on the source (never copied): /zookeeper\n"), "\(verify.stdoutText)")
        }
    }

    /// Runs `body` with a ZooKeeper source holding the key `/ok/a` and the znodes `foreign` (paths
    /// in its namespace that no key can name, written with kazoo, ancestors made), an etcd target,
    /// and a `coord`: `body` gets the process, the source and target URLs and the target's handles.
    static func withForeignZnodes(
        _ foreign: [String], test: String = #function, _ body: (CoordProcess, String, String, TestHandles) async throws -> Void
    ) async throws {
        try await PythonScript.require("kazoo", install: Kazoo.install)
        let zk = try TestHandles(.zookeeper, test: test)
        let etcd = try TestHandles(.etcd, test: test)
        try await TestHandles.closing(zk, etcd) {
            _ = try await zk.open().create(try Key("/ok/a"), value: [1])
            let raw = zk.namespace.path
            _ = try await Kazoo.run("write", Dictionary(uniqueKeysWithValues: foreign.map { (raw + $0, "") }))
            do {
                let coord = try CoordProcess()
                defer { coord.removeDirectory() }
                let from = try #require(zk.backend.url(zk.namespace)), to = try #require(etcd.backend.url(etcd.namespace))
                try await body(coord, from, to, etcd)
            } catch {
                // The namespace's clean-up deletes them too, unless the error was that it cannot.
                let tops = Set(foreign.map { raw + "/" + $0.split(separator: "/")[0] })
                _ = try? await Kazoo.run("delete", tops.sorted())
                throw error
            }
        }
    }

    @Test(
        "--follow lists the source keys the target cannot hold when it starts following, not only at stop",
        .enabled("needs etcdctl") { TestEnvironment.isCI || FileManager.default.isExecutableFile(atPath: "/usr/bin/etcdctl") })
    func followListsForeignKeysAtTheStart() async throws {
        let etcd = try TestHandles(.etcd)
        let zk = try TestHandles(.zookeeper)
        try await TestHandles.closing(etcd, zk) {
            let source = try await etcd.open()
            _ = try await source.create(try Key("/ok"), value: [1])
            try await Self.etcdctlPut(etcd.namespace.path + "/weird/", [2])
            let coord = try CoordProcess()
            defer { coord.removeDirectory() }
            let from = try #require(etcd.backend.url(etcd.namespace)), to = try #require(zk.backend.url(zk.namespace))
            let result = try await coord.run(["migrate", "--from", from, "--to", to, "--follow"], interruptAfterFirstLine: true)
            #expect(result.status == 6, "\(result.stderr)")
            let lines = result.stdoutText.split(separator: "\n").map(String.init)
            #expect(lines.first?.hasPrefix("following changes under /") == true, "\(lines)")
            // Before the summary of the following (the catch-up at stop lists them again after it).
            let followed = try #require(lines.firstIndex { $0.hasPrefix("followed: ") }, "\(lines)")
            #expect(Array(lines[1..<followed].prefix(2)) == ["not copied: 1 key that the target cannot hold", "  /weird/: not a valid key: a key must not end with '/'"], "\(lines)")
            #expect(try await zk.open().get(try Key("/ok"))?.value == [1])
        }
    }

    @Test("--follow from ZooKeeper lists the znodes no key can name when it starts following, and its watch copies only the others")
    func followFromZooKeeperListsForeignZnodes() async throws {
        try await Self.withForeignZnodes(["/zookeeper"]) { coord, from, to, etcd in
            let result = try await coord.run(["migrate", "--from", from, "--to", to, "--follow"], interruptAfterFirstLine: true)
            #expect(result.status == 6, "\(result.stderr)")
            let lines = result.stdoutText.split(separator: "\n").map(String.init)
            let followed = try #require(lines.firstIndex { $0.hasPrefix("followed: ") }, "\(lines)")
            #expect(
                Array(lines[1..<followed].prefix(2)) == [
                    "not copied: 1 key that the target cannot hold", "  /zookeeper: not a valid key: '/zookeeper' is reserved on every backend",
                ], "\(lines)")
            #expect(try await etcd.open().records(under: .root).map(\.key.path) == ["/ok", "/ok/a"])
        }
    }

    @Test(
        "an etcd source whose namespace key is missing but which holds keys (another tool's) is copied, not called missing; a key the user has below a missing one stays",
        .enabled("needs etcdctl") { TestEnvironment.isCI || FileManager.default.isExecutableFile(atPath: "/usr/bin/etcdctl") })
    func etcdSourceWithoutItsNamespaceKey() async throws {
        let etcd = try TestHandles(.etcd)
        let zk = try TestHandles(.zookeeper)
        try await TestHandles.closing(etcd, zk) {
            // Only keys beneath the namespace, as etcdctl writes them: no /NS key, no /NS/config key.
            let raw = etcd.namespace.path
            try await Self.etcdctlPut(raw + "/config/x", Array("one".utf8))
            // And an empty key of the user's under a missing one: /NS/kept/inner with no /NS/kept
            // (etcdctl puts no empty value: straight through the gateway).
            let rootURL = try #require(TestBackend.etcd.url(.root))
            let endpoint = try #require(try StoreURL(rootURL).hosts.first)
            let port = try #require(Int(endpoint.split(separator: ":").last ?? ""))
            let inner = Data((raw + "/kept/inner").utf8).base64EncodedString()
            _ = try #require(await LoopbackHTTP.postJSON(port: port, path: "/v3/kv/put", body: #"{"key":"\#(inner)","value":""}"#))
            let coord = try CoordProcess()
            defer { coord.removeDirectory() }
            let from = try #require(etcd.backend.url(etcd.namespace)), to = try #require(zk.backend.url(zk.namespace))
            let copy = try await coord.run(["migrate", "--from", from, "--to", to])
            #expect(copy.status == 0, "\(copy.stderr)")
            let target = try await zk.open()
            #expect(try await target.get(try Key("/config/x"))?.value == Array("one".utf8))

            // A dry run from a namespace below the missing /NS/kept leaves /NS/kept/inner alone.
            let innerURL = try #require(etcd.backend.url(try etcd.namespace.child("kept").child("inner")))
            let dry = try await coord.run(["migrate", "--from", innerURL, "--to", to, "--dry-run"])
            #expect(dry.status == 0, "\(dry.stderr)")
            let root = try await etcd.backend.open(.root, etcd.ttl)
            #expect(try await root.exists(try etcd.namespace.child("kept").child("inner")), "the user's key stays")
            await root.close()
        }
    }

    @Test("--dry-run counts and lists the keys it would overwrite, the copy counts those it did; keys only on the target are a note that does not fail --verify")
    func overwritesAndKeysOnlyOnTheTarget() async throws {
        try await Self.withACopyChangedOnTheTarget { coord, from, to, target in
            _ = try await target.create(try Key("/app/only-on-target"), value: [])

            let dry = try await coord.run(["migrate", "--from", from, "--to", to, "--dry-run"])
            #expect(dry.status == 0, "\(dry.stderr)")
            #expect(dry.stdoutText.hasPrefix("dry run: would copy 1 key (1 overwriting a different value on the target), skipped 57 identical"), "\(dry.stdoutText)")
            #expect(dry.stdoutText.contains("\nwould overwrite: /app/k3/v8\n"), "\(dry.stdoutText)")

            let check = try await coord.run(["migrate", "--from", from, "--to", to, "--verify", "--dry-run"])
            #expect(check.status == 1, "\(check.stderr)")
            #expect(check.stdoutText.contains(": 1 difference\n  different value: /app/k3/v8"), "\(check.stdoutText)")
            #expect(check.stdoutText.contains("\nnote: 1 key only on the target, left alone (--follow would delete them): /app/only-on-target\n"), "\(check.stdoutText)")

            let copy = try await coord.run(["migrate", "--from", from, "--to", to, "--verify"])
            #expect(copy.status == 0, "\(copy.stderr)")
            #expect(copy.stdoutText.hasPrefix("copied 1 key (1 of them overwriting a different value on the target), skipped 57 identical"), "\(copy.stdoutText)")
            #expect(copy.stdoutText.contains("\noverwrote: /app/k3/v8\n"), "\(copy.stdoutText)")
            #expect(copy.stdoutText.contains(": identical for every source key; 1 key only on the target\n"), "\(copy.stdoutText)")
            #expect(try await target.get(try Key("/app/only-on-target")) != nil)
        }
    }

    // MARK: - Leaving the stores as they were

    @Test(
        "a dry run, a refused self-copy, a missing source namespace or --prefix leave both stores as they were; the missing ones are status 2, named",
        arguments: [TestBackend.etcd, .zookeeper])
    func leavesStoresAsTheyWere(_ backend: TestBackend) async throws {
        try await Self.withKeyAB(on: backend, test: "leavesStoresAsTheyWere") { store, coord, base, namespace in

            let dry = try await coord.run(["migrate", "--from", base + "/a", "--to", base + "/dryrun-target", "--dry-run"])
            #expect(dry.status == 0, "\(dry.stderr)")
            #expect(dry.stdoutText.hasPrefix("dry run: would copy 1 key (0 overwriting"), "\(dry.stdoutText)")
            #expect(try await store.children(of: .root) == ["a"])

            let refused = try await coord.run(["migrate", "--from", base, "--to", try Self.viaLocalhost(base) + "/nested"])
            #expect(refused.status == 7, "\(refused.stderr)")
            #expect(try await store.children(of: .root) == ["a"])

            let typo = try await coord.run(["migrate", "--from", base + "/srcTYPO", "--to", base + "/elsewhere"])
            #expect(typo.status == 2, "\(typo.stderr)")
            #expect(typo.stderrLines == ["coord: the source's namespace \(namespace.path)/srcTYPO does not exist on \(base)/srcTYPO (is the namespace in --from right?)"])
            #expect(try await store.children(of: .root) == ["a"])

            let noPrefix = try await coord.run(["migrate", "--from", base, "--to", base + "/copy", "--prefix", "/nokey", "--dry-run"])
            #expect(noPrefix.status == 2, "\(noPrefix.stderr)")
            #expect(noPrefix.stderrLines == ["coord: --prefix /nokey does not exist on the source \(base)"])
            #expect(try await store.children(of: .root) == ["a"])

            // A key someone put in the new namespace meanwhile keeps it: only empty keys go.
            let copied = try await coord.run(["migrate", "--from", base + "/a", "--to", base + "/kept"])
            #expect(copied.status == 0, "\(copied.stderr)")
            #expect(try await store.get(try Key("/kept/b"))?.value == [1, 2])
        }
    }
}
