import Coordination
import CoordinationLocalServers
import CoordinationTestSupport
import Foundation
import Testing

extension MigrateCommandTests {
    /// The second signal used to be caught and dropped: the catch-up and the verify ran on, as
    /// long as they took, and only SIGKILL stopped them.
    @Test("--follow: SIGINT stops the mirroring, and a second SIGINT stops the catch-up: one line saying so, death by SIGINT")
    func secondSignalStopsTheCatchUp() async throws {
        try await Self.followSignallingTwice(SIGINT, slowingTheTargetBy: .seconds(5)) { migrate in
            let started = ContinuousClock.now
            let ended = await migrate.exit(limit: .seconds(20))
            #expect(ended.reason == .uncaughtSignal && ended.status == SIGINT, "\(ended), \(migrate.stdout), \(migrate.stderr)")
            #expect(started.duration(to: ended.at) < .seconds(5), "stopped before the slowed read of the target answered")
            let line = migrate.stderr.split(separator: "\n").last.map(String.init) ?? ""
            #expect(line.hasPrefix("coord: interrupted by SIGINT while catching up after --follow: "), "\(migrate.stderr)")
            #expect(line.hasSuffix("; run the same command again to finish: it resumes"), "\(line)")
            #expect(!migrate.stdout.contains("verify:"), "no verdict: \(migrate.stdout)")
        }
    }

    /// GNU timeout sends its SIGTERM to coord and again to coord's process group: the second
    /// stopped the catch-up, so `timeout 60 coord migrate --follow` now and then ended without
    /// catching up or verifying, status 143.
    @Test("--follow: a second SIGTERM does not stop the catch-up: a note, then the catch-up and the verify, status 0")
    func secondTerminateLetsTheCatchUpFinish() async throws {
        try await Self.followSignallingTwice(SIGTERM, slowingTheTargetBy: .seconds(2)) { migrate in
            try await migrate.waitFor("coord: SIGTERM again: still catching up and verifying (SIGINT stops that)", inStderr: true)
            let ended = await Self.exit(of: migrate.process, limit: .seconds(30))
            #expect(ended.reason == .exit && ended.status == 0, "\(ended), \(migrate.stdout), \(migrate.stderr)")
            #expect(migrate.stdout.contains("lag at stop:") && migrate.stdout.contains("identical"), "\(migrate.stdout)")
            #expect(!migrate.stderr.contains("interrupted by"), "\(migrate.stderr)")
        }
    }

    /// Once the verdict is printed the migration is done: a SIGTERM while the stores close (a
    /// supervisor repeating its stop) said "still catching up and verifying", and after a SIGINT
    /// there (which let the default actions back) it killed coord, status 143.
    @Test(
        "--follow: a SIGTERM after the verdict, alone or after a SIGINT, changes nothing: no note, status 0",
        arguments: [[SIGTERM], [SIGINT, SIGTERM]])
    func terminateAfterTheVerdict(signals: [Int32]) async throws {
        try await Self.following { run in
            let (migrate, relay) = (run.migrate, run.relay)
            let pid = migrate.process.processIdentifier
            kill(pid, SIGTERM)
            try await migrate.waitFor("verify:")
            // Closing the target now waits on the relay: the signals land while coord closes.
            relay.delayReplies(by: .seconds(3))
            for signal in signals {
                kill(pid, signal)
                try await withDeadline("the signal taken", limit: .seconds(5)) {
                    while Self.isPending(signal, in: pid) { try await Task.sleep(for: .milliseconds(5)) }
                }
            }
            let ended = await Self.exit(of: migrate.process, limit: .seconds(30))
            #expect(ended.reason == .exit && ended.status == 0, "\(ended), \(migrate.stdout), \(migrate.stderr)")
            #expect(!migrate.stderr.contains("still catching up"), "\(migrate.stderr)")
            #expect(migrate.stdout.contains("identical"), "\(migrate.stdout)")
        }
    }

    /// Runs `coord migrate --follow` from ZooKeeper to etcd, the target through a relay whose
    /// replies are slowed by `delay` once following, so that a second `signal` lands in the
    /// catch-up; sends `signal` twice (the second once the first is taken: one pending signal
    /// absorbs another), then hands the process to `body`.
    private static func followSignallingTwice(
        _ signal: Int32, slowingTheTargetBy delay: Duration, test: String = #function,
        _ body: (SchedulerProcessTests.Background) async throws -> Void
    ) async throws {
        try await following(test: test) { run in
            let migrate = run.migrate
            let pid = migrate.process.processIdentifier
            run.relay.delayReplies(by: delay)
            kill(pid, signal)
            try await withDeadline("the first signal taken", limit: .seconds(5)) {
                while isPending(signal, in: pid) { try await Task.sleep(for: .milliseconds(5)) }
            }
            kill(pid, signal)
            try await body(migrate)
        }
    }

    /// A `coord migrate --follow` from ZooKeeper to etcd, the target reached through a relay of
    /// its own, once it follows: what ``following(test:_:)`` hands its body.
    struct FollowingMigration {
        let migrate: SchedulerProcessTests.Background
        let relay: TCPRelay
        let coord: CoordProcess
        let from: String
        let to: String
        let source: any CoordinationStore
    }

    /// Starts `coord migrate --follow` from ZooKeeper to etcd through a relay, waits until it
    /// follows, then runs `body`; the relay and coord's directory go afterwards.
    private static func following(test: String = #function, _ body: (FollowingMigration) async throws -> Void) async throws {
        try await withServers({ zk, etcd, source in
            let relay = try TCPRelay(upstreams: [TestEnvironment.etcdEndpoints[0]], isFinished: { false })
            defer { relay.stop() }
            let coord = try CoordProcess()
            defer { coord.removeDirectory() }
            let from = try #require(zk.backend.url(zk.namespace))
            let to = "etcd://\(relay.address)\(etcd.namespace.path)"
            let migrate = try await SchedulerProcessTests.Background(
                coord, ["migrate", "--from", from, "--to", to, "--follow"], name: "migrate", keepStdout: true)
            try await migrate.waitFor("following changes under")
            try await body(FollowingMigration(migrate: migrate, relay: relay, coord: coord, from: from, to: to, source: source))
        }, test: test)
    }

    @Test("--follow losing the target: status 9, one line naming the write and that running again catches up; it does")
    func followLosesTheTarget() async throws {
        try await Self.following { run in
            let (migrate, relay, coord, from, to, source) = (run.migrate, run.relay, run.coord, run.from, run.to, run.source)
            relay.cut()
            _ = try await source.create(try Key("/app/late"), value: [42])
            let ended = await Self.exit(of: migrate.process, limit: .seconds(30))
            #expect(ended.reason == .exit && ended.status == 9, "\(ended), \(migrate.stderr)")
            let line = migrate.stderr.split(separator: "\n").last.map(String.init) ?? ""
            #expect(line.hasPrefix("coord: the migration's write of /app/late on the target failed: "), "\(migrate.stderr)")
            #expect(line.contains("; the target may lag behind the source: run the same command again to catch up and follow again"), "\(line)")

            relay.heal()
            let again = try await coord.run(["migrate", "--from", from, "--to", to, "--verify"])
            #expect(again.status == 0, "\(again.stderr)")
            #expect(again.stdoutText.contains("copied 1 key,"), "/app/late: \(again.stdoutText)")
        }
    }

    @Test("--follow notes on stderr when contact with the source is lost and when it is back, and mirrors the change made meanwhile", arguments: SchedulerProcessTests.servers)
    func followAcrossASourceOutage(backend: TestBackend) async throws {
        let from = try TestHandles(backend)
        let to = try TestHandles(backend.name == "zookeeper" ? .etcd : .zookeeper)
        try await TestHandles.closing(from, to) {
            let source = try await from.open()
            _ = try await source.create(try Key("/w/first"), value: [1])
            let relay = try WorkerWaitsForStoreTests.relay(to: backend)
            defer { relay.stop() }
            let coord = try CoordProcess()
            defer { coord.removeDirectory() }
            let url = WorkerWaitsForStoreTests.url(try #require(backend.url(from.namespace, ttl: from.ttl)), throughHost: relay.address)
            let migrate = try await SchedulerProcessTests.Background(
                coord, ["migrate", "--from", url, "--to", try #require(to.backend.url(to.namespace)), "--follow"], name: "migrate",
                keepStdout: true)
            defer { if migrate.process.isRunning { kill(migrate.process.processIdentifier, SIGKILL) } }
            // Another process's files: read until the line shows (or the process ended), within a bound.
            func waitFor(_ what: String, in text: @escaping @Sendable () -> String) async throws {
                try await withDeadline(what, limit: .seconds(30)) {
                    while !text().contains(what) && migrate.process.isRunning { try await Task.sleep(for: .milliseconds(50)) }
                }
                #expect(text().contains(what), "\(what) never came: \(migrate.stdout), \(migrate.stderr)")
            }
            try await waitFor("following changes under", in: { migrate.stdout })
            relay.cut()
            try await waitFor("coord: note: lost contact with the source; following goes on when it is back", in: { migrate.stderr })
            _ = try await source.create(try Key("/w/meanwhile"), value: [2])
            relay.heal()
            try await waitFor("coord: note: contact with the source is back", in: { migrate.stderr })
            let target = try await to.open()
            try await withDeadline("/w/meanwhile on the target", limit: .seconds(20)) {
                for try await event in target.watch(try Key("/w/meanwhile")) {
                    if case .snapshot(let records) = event, records.first?.value == [2] { return }
                    if case .put(let record) = event, record.value == [2] { return }
                }
            }
            kill(migrate.process.processIdentifier, SIGINT)
            let ended = await Self.exit(of: migrate.process)
            #expect(ended.reason == .exit && ended.status == 0, "\(ended), \(migrate.stderr)")
        }
    }

    /// Whether `signal` waits, not yet delivered, for the process `pid` (its `ShdPnd` mask).
    static func isPending(_ signal: Int32, in pid: Int32) -> Bool {
        guard let status = try? String(contentsOfFile: "/proc/\(pid)/status", encoding: .utf8),
            let line = status.split(separator: "\n").first(where: { $0.hasPrefix("ShdPnd:") }),
            let mask = UInt64(line.dropFirst("ShdPnd:".count).trimmingCharacters(in: .whitespaces), radix: 16)
        else { return false }
        return mask & (1 << UInt64(signal - 1)) != 0
    }
}
