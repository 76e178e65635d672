import Foundation
import Testing

@testable import CoordinationChaos

/// Every fault kind is tried once, however short the phase or late the faults before it: a run
/// that left a kind out (seen in a CI run, whose last planned kind the phase's end cut off)
/// reported PASSED of a fault it never injected.
@Suite("The chaos schedule's first round")
struct FaultFirstRoundTests {
    @Test("a phase too short for every kind still plans each once, a worker stop twice", arguments: ChaosBackend.allCases)
    func shortPhase(backend: ChaosBackend) {
        for seed in UInt64(0)..<10 {
            let plan = FaultScheduleTests.plan(backend, seed: seed, phase: .seconds(10))
            let kinds = FaultKind.kinds(for: backend)
            #expect(Set(plan.map(\.kind)) == Set(kinds), "seed \(seed)")
            #expect(plan.count == kinds.count + 1, "seed \(seed): the first round and nothing after it")
            #expect(plan.filter { $0.kind == .workerStop }.count == 2)
        }
    }

    @Test("past the phase's end the first fault of a kind is still injected; a second of a kind is left out")
    func lateFirstOfItsKind() async throws {
        let cluster = RecordingCluster(leader: 0)
        let sink = try FencingSink(started: .now)
        defer { sink.stop() }
        let injector = try await FaultInjectorServerTests.injector(cluster, sink: sink)
        let plan = [
            FaultInjectorServerTests.fault(.compaction, target: 0),
            // Both planned past the 10 ms phase (as after faults that overran their time).
            FaultInjectorServerTests.fault(.serverStop, target: 1, at: .milliseconds(40)),
            FaultInjectorServerTests.fault(.compaction, target: 0, at: .milliseconds(60)),
        ]
        try await injector.run(plan, from: .now, length: .milliseconds(10))
        #expect(injector.records.map(\.kind) == [.compaction, .serverStop])
    }
}
