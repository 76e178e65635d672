import CoordinationChaos
import Testing

/// Every kind once is not enough: a schedule whose server faults all strike one member, whose
/// worker faults all strike one slot, or whose filler draws one kind only, still passes that.
@Suite("The chaos fault schedule's spread")
struct FaultScheduleSpreadTests {
    static let seeds = UInt64(0)..<20

    @Test("every quick phase stops a worker at least twice (the fault fencing is for)", arguments: ChaosBackend.allCases)
    func workerStopTwice(backend: ChaosBackend) {
        for seed in Self.seeds {
            let plan = FaultScheduleTests.plan(backend, seed: seed)
            #expect(plan.filter { $0.kind == .workerStop }.count >= 2, "seed \(seed): \(plan.map(\.kind))")
        }
    }

    @Test("over seeds, server faults strike every member and worker faults every slot, and only those", arguments: ChaosBackend.allCases)
    func targetsSpread(backend: ChaosBackend) {
        let plans = Self.seeds.map { FaultScheduleTests.plan(backend, seed: $0) }
        let workerKinds: Set<FaultKind> = [.workerKill, .workerStop, .workerStall, .sessionExpiry]
        let serverKinds: Set<FaultKind> = [.serverKill, .serverTerminate, .serverStop]
        let members = plans.flatMap { $0.filter { serverKinds.contains($0.kind) }.map(\.target) }
        let slots = plans.flatMap { $0.filter { workerKinds.contains($0.kind) }.map(\.target) }
        #expect(Set(members) == [0, 1, 2])
        #expect(Set(slots) == [0, 1, 2, 3])
    }

    @Test("past the first round, the faults that fill the phase are of several kinds", arguments: ChaosBackend.allCases)
    func fillerVaries(backend: ChaosBackend) {
        let round = FaultKind.kinds(for: backend).count + 1
        let filler = Self.seeds.flatMap { FaultScheduleTests.plan(backend, seed: $0).dropFirst(round).map(\.kind) }
        #expect(Set(filler).count >= 3, "\(filler)")
    }
}
