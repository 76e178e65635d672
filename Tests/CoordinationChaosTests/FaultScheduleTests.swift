import CoordinationChaos
import Testing

@Suite("The chaos fault schedule")
struct FaultScheduleTests {
    static func plan(_ backend: ChaosBackend, seed: UInt64, phase: Duration = .seconds(80)) -> [PlannedFault] {
        var generator = SeededGenerator(seed: seed)
        return FaultSchedule.plan(backend: backend, phase: phase, ttl: .seconds(2), workers: 4, members: 3, generator: &generator)
    }

    @Test("the same seed gives the same schedule; another seed another one")
    func seeded() {
        #expect(Self.plan(.etcd, seed: 7) == Self.plan(.etcd, seed: 7))
        #expect(Self.plan(.etcd, seed: 7) != Self.plan(.etcd, seed: 8))
    }

    @Test("the quick phase strikes with every kind its backend takes, one fault at a time, within the phase", arguments: ChaosBackend.allCases)
    func everyKind(backend: ChaosBackend) {
        for seed in UInt64(0)..<20 {
            let plan = Self.plan(backend, seed: seed)
            #expect(Set(plan.map(\.kind)).isSuperset(of: FaultKind.kinds(for: backend)), "seed \(seed): \(plan.map(\.kind))")
            // The first round is planned whole (see FaultFirstRoundTests); what follows it starts within the phase.
            #expect(plan.dropFirst(FaultKind.kinds(for: backend).count + 1).allSatisfy { $0.at < .seconds(80) })
            #expect(zip(plan, plan.dropFirst()).allSatisfy { $0.at + $0.lead + $0.hold < $1.at })
            #expect(plan.filter { [.workerStop, .workerStall, .sessionExpiry].contains($0.kind) }.allSatisfy { $0.hold > .seconds(2) }, "stops and cuts outlast the TTL")
            // A stall's stop comes in the silence, mostly before the client can notice it.
            #expect(plan.filter { $0.kind == .workerStall }.allSatisfy { $0.lead >= .milliseconds(200) && $0.lead <= .milliseconds(1200) })
            #expect(plan.filter { $0.kind != .workerStall }.allSatisfy { $0.lead == .zero })
            #expect(backend == .etcd || !plan.contains { $0.kind == .compaction })
        }
    }
}
