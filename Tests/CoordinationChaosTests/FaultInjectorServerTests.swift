import CoordinationMemory
import Foundation
import Logging
import Testing

@testable import CoordinationChaos

/// A server fault counted in the report but aimed at the wrong member, or never undone, makes a
/// green chaos run prove nothing: what the injector does to the cluster, in order, and what it records.
@Suite("The chaos fault injector's server faults")
struct FaultInjectorServerTests {
    static func injector(_ cluster: RecordingCluster, workers: [ChaosWorker] = [], sink: FencingSink) async throws -> FaultInjector {
        let store = try await MemoryServer().connect(namespace: .root, sessionTTL: .seconds(5))
        var logger = Logger(label: "chaos-injector-test")
        logger.logLevel = .critical
        return FaultInjector(
            cluster: cluster, workers: workers, observer: StoreObserver(store: store, logger: logger), sink: sink, started: .now, logger: logger)
    }

    static func fault(_ kind: FaultKind, target: Int, at: Duration = .zero) -> PlannedFault {
        PlannedFault(at: at, kind: kind, target: target, hold: .milliseconds(10))
    }

    /// What one fault does to a cluster led by `leader`, and the record it leaves.
    static func inject(_ kind: FaultKind, target: Int, leader: Int?) async throws -> (calls: [String], record: FaultRecord?) {
        let cluster = RecordingCluster(leader: leader)
        let sink = try FencingSink(started: .now)
        defer { sink.stop() }
        let injector = try await injector(cluster, sink: sink)
        try await injector.inject(fault(kind, target: target))
        #expect(injector.records.count == 1)
        return (cluster.calls, injector.records.first)
    }

    @Test("a follower kill aimed at the leader kills the next member and restarts it; one aimed at a follower kills that one")
    func followerKill() async throws {
        let atLeader = try await Self.inject(.serverKill, target: 1, leader: 1)
        #expect(atLeader.calls == ["kill 2", "restart 2"])
        #expect(atLeader.record?.target == "member 2")
        let atFollower = try await Self.inject(.serverKill, target: 2, leader: 1)
        #expect(atFollower.calls == ["kill 2", "restart 2"])
        let atFirst = try await Self.inject(.serverKill, target: 1, leader: 0)
        #expect(atFirst.calls == ["kill 1", "restart 1"])
        #expect(atFirst.record?.kind == .serverKill)
    }

    @Test("a leader kill kills the leader, whatever the plan's member, and restarts it")
    func leaderKill() async throws {
        let result = try await Self.inject(.leaderKill, target: 0, leader: 2)
        #expect(result.calls == ["kill 2", "restart 2"])
        #expect(result.record?.target == "member 2 (leader)")
        #expect(result.record?.kind == .leaderKill)
    }

    @Test("a terminate terminates the planned member and restarts it")
    func terminate() async throws {
        let result = try await Self.inject(.serverTerminate, target: 1, leader: 0)
        #expect(result.calls == ["terminate 1", "restart 1"])
        #expect(result.record?.kind == .serverTerminate)
    }

    @Test("a server stop stops the planned member, continues it after the hold, and waits until it serves")
    func stop() async throws {
        let result = try await Self.inject(.serverStop, target: 2, leader: 0)
        #expect(result.calls == ["signal 2 STOP", "signal 2 CONT", "wait until serving"])
        #expect(result.record?.target == "member 2")
        #expect(result.record?.kind == .serverStop)
    }

    @Test("a compaction compacts, and its record names the revision")
    func compaction() async throws {
        let result = try await Self.inject(.compaction, target: 0, leader: 0)
        #expect(result.calls == ["compact"])
        #expect(result.record?.note == "at revision 42")
        #expect(result.record?.kind == .compaction)
    }

    @Test("a plan's faults within the phase are all injected, in order; one planned past the phase is left out")
    func wholePlan() async throws {
        let cluster = RecordingCluster(leader: 0)
        let sink = try FencingSink(started: .now)
        defer { sink.stop() }
        let injector = try await Self.injector(cluster, sink: sink)
        let plan = [
            Self.fault(.serverStop, target: 1), Self.fault(.compaction, target: 0, at: .milliseconds(20)),
            Self.fault(.serverTerminate, target: 2, at: .milliseconds(40)), Self.fault(.compaction, target: 0, at: .seconds(60)),
        ]
        try await injector.run(plan, from: .now, length: .seconds(30))
        #expect(injector.records.map(\.kind) == [.serverStop, .compaction, .serverTerminate])
        #expect(cluster.calls == ["signal 1 STOP", "signal 1 CONT", "wait until serving", "compact", "terminate 2", "restart 2"])
    }
}
