import CoordinationLocalServers
import Foundation
import Synchronization
import Testing

@testable import CoordinationChaos

/// A session expiry that never cuts, a cut never healed, or a stall whose network stays live,
/// leaves a chaos run green and untested: what a worker slot's relays do to real connections,
/// through the worker and through the fault injector.
@Suite("The chaos worker's network faults")
struct ChaosWorkerRelayTests {
    /// The relay addresses a slot's launch was given.
    final class Launched: Sendable {
        let hosts = Mutex<[String]>([])
    }

    /// A slot relaying to `probe`'s upstream, its process a plain `sleep`; the relay's address.
    static func worker(to probe: RelayLinkProbe, log folder: URL) throws -> (ChaosWorker, String) {
        let relays = Launched()
        let worker = try ChaosWorker(slot: 1, members: ["127.0.0.1:\(probe.upstreamPort)"]) { id, hosts in
            relays.hosts.withLock { $0 = hosts }
            return try ChildProcess(
                executable: "/bin/sleep", arguments: ["30"], environment: [:], log: folder.appendingPathComponent("\(id).log").path)
        }
        try worker.start()
        return (worker, try #require(relays.hosts.withLock { $0.first }))
    }

    static func withWorker(_ body: (ChaosWorker, String, RelayLinkProbe) async throws -> Void) async throws {
        let folder = URL(fileURLWithPath: NSTemporaryDirectory()).appendingPathComponent("chaos-test-relay-\(UInt32.random(in: 0...UInt32.max))")
        try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: folder) }
        let probe = try RelayLinkProbe()
        let (worker, relay) = try worker(to: probe, log: folder)
        do {
            try await body(worker, relay, probe)
        } catch {
            Issue.record(error)
        }
        await worker.kill()
        worker.close()
    }

    @Test("a cut drops the slot's connections and refuses new ones; healed, it relays again")
    func cutAndHeal() async throws {
        try await Self.withWorker { worker, relay, probe in
            let before = try #require(try await probe.link(through: relay))
            #expect(try await probe.carries(from: before.client, to: before.server))
            worker.cut()
            #expect(try await probe.isDropped(before.client))
            #expect(try await probe.link(through: relay, within: .seconds(2)) == nil, "no new connection reaches the server while cut")
            worker.heal()
            let after = try #require(try await probe.link(through: relay))
            #expect(try await probe.carries(from: after.client, to: after.server))
        }
    }

    @Test("silenced, the slot's connections carry nothing and stay open; new ones work")
    func silence() async throws {
        try await Self.withWorker { worker, relay, probe in
            let before = try #require(try await probe.link(through: relay))
            worker.silenceConnections()
            // Nothing arriving can only be seen as nothing within a while.
            #expect(try await !probe.carries(from: before.client, to: before.server, within: .milliseconds(500)))
            #expect(try await !probe.isDropped(before.client, within: .seconds(1)))
            let after = try #require(try await probe.link(through: relay))
            #expect(try await probe.carries(from: after.client, to: after.server))
        }
    }

    @Test("a session expiry cuts the slot for its hold and heals it")
    func sessionExpiry() async throws {
        try await Self.withWorker { worker, relay, probe in
            let before = try #require(try await probe.link(through: relay))
            let sink = try FencingSink(started: .now)
            defer { sink.stop() }
            let injector = try await FaultInjectorServerTests.injector(RecordingCluster(leader: 0), workers: [worker], sink: sink)
            try await injector.inject(PlannedFault(at: .zero, kind: .sessionExpiry, target: 0, hold: .milliseconds(100)))
            #expect(try await probe.isDropped(before.client))
            let after = try #require(try await probe.link(through: relay), "healed after the hold")
            #expect(try await probe.carries(from: after.client, to: after.server))
            #expect(injector.records.map(\.kind) == [.sessionExpiry])
            #expect(injector.stalls.map(\.how) == ["cut off"])
        }
    }

    @Test("a stall silences the slot's connections")
    func stallSilences() async throws {
        try await Self.withWorker { worker, relay, probe in
            let before = try #require(try await probe.link(through: relay))
            let sink = try FencingSink(started: .now)
            defer { sink.stop() }
            let injector = try await FaultInjectorServerTests.injector(RecordingCluster(leader: 0), workers: [worker], sink: sink)
            try await injector.inject(PlannedFault(at: .zero, kind: .workerStall, target: 0, hold: .milliseconds(100)))
            #expect(try await !probe.carries(from: before.client, to: before.server, within: .milliseconds(500)))
            #expect(injector.records.map(\.kind) == [.workerStall])
            #expect(injector.stalls.map(\.how) == ["stopped"])
        }
    }
}
