import Foundation
import Testing

@testable import CoordinationChaos

/// `coord-chaos` passed when every report it got passed, so a run that never got to a backend
/// (the loop over backends stopping after one, a report dropped) passed having tested half of
/// what was asked. The verdict is judged against the backends requested.
@Suite("The verdict of a chaos run over its backends")
struct ChaosVerdictTests {
    /// A report of `backend` that passed, run with seed 42.
    static func passed(_ backend: ChaosBackend) -> ChaosHarness.Outcome {
        let report = ChaosReportTests.report(InvariantCheckerTests.cleanRun(), backend: backend)
        precondition(report.passed, "the clean run's report passes")
        return .report(report)
    }

    @Test("--backend asks for that backend only; both asks for each, in turn")
    func requestedBackends() throws {
        #expect(ChaosBackend.requested(by: "etcd") == [.etcd])
        #expect(ChaosBackend.requested(by: "zookeeper") == [.zookeeper])
        #expect(ChaosBackend.requested(by: "both") == [.zookeeper, .etcd])
        for text in ["", "Etcd", "all", "zookeeper,etcd"] { #expect(ChaosBackend.requested(by: text) == nil, "\(text)") }
        let binary = URL(fileURLWithPath: "/nonexistent/coord")
        let etcd = try #require(ChaosConfiguration.requested(backend: "etcd", seed: 7, soak: nil, coordBinary: binary))
        #expect(etcd.backends == [.etcd])
        #expect(etcd.seed == 7)
        let soak = try #require(ChaosConfiguration.requested(backend: "both", seed: 8, soak: .seconds(600), coordBinary: binary))
        #expect(soak.backends == [.zookeeper, .etcd])
        #expect(soak.seed == 8)
        #expect(soak.faultPhase == .seconds(600))
    }

    @Test("both requested and both passed: the run passed")
    func bothPassed() {
        let verdict = ChaosVerdict(requested: [.zookeeper, .etcd], seed: 42, outcomes: [Self.passed(.zookeeper), Self.passed(.etcd)])
        #expect(verdict.missing.isEmpty)
        #expect(verdict.failures.isEmpty)
        #expect(verdict.passed)
    }

    @Test("both requested, only one reported: the run failed, naming the one missing", arguments: ChaosBackend.allCases)
    func oneMissing(ran: ChaosBackend) {
        let missing = ChaosBackend.allCases.first { $0 != ran }!
        let verdict = ChaosVerdict(requested: [.zookeeper, .etcd], seed: 42, outcomes: [Self.passed(ran)])
        #expect(!verdict.passed)
        #expect(verdict.missing == [missing])
        #expect(verdict.failures.count == 1)
        #expect(verdict.failures.first?.hasPrefix("\(missing.rawValue): NO REPORT") == true, "\(verdict.failures)")
    }

    @Test("nothing reported at all: each requested backend is named")
    func noneReported() {
        let verdict = ChaosVerdict(requested: [.zookeeper, .etcd], seed: 42, outcomes: [])
        #expect(!verdict.passed)
        #expect(verdict.missing == [.zookeeper, .etcd])
    }

    @Test("--backend etcd with only etcd's report passed")
    func oneRequestedOneReported() {
        #expect(ChaosVerdict(requested: [.etcd], seed: 42, outcomes: [Self.passed(.etcd)]).passed)
    }

    @Test("a failed run, a failed report and a report of another seed each fail it, naming their backend")
    func eachFailureNamed() {
        var lost = InvariantCheckerTests.cleanRun()
        lost.mustSucceed.insert(ResourceID(job: "lost", item: 0))
        let violated = ChaosVerdict(
            requested: [.zookeeper, .etcd], seed: 42,
            outcomes: [.failed(.zookeeper, "no cluster"), .report(ChaosReportTests.report(lost, backend: .etcd))])
        #expect(violated.missing.isEmpty)
        #expect(violated.failures.map { $0.prefix { $0 != ":" } } == ["zookeeper", "etcd"], "\(violated.failures)")
        #expect(violated.failures.last?.contains("VIOLATED: no job lost") == true, "\(violated.failures)")
        let otherSeed = ChaosVerdict(requested: [.etcd], seed: 43, outcomes: [Self.passed(.etcd)])
        #expect(otherSeed.failures == ["etcd: RAN SEED 42, not the requested 43: --seed would not replay it"])
    }

    @Test("the harness runs every backend it is given, in order, past one that failed")
    func harnessRunsEveryBackend() async throws {
        var ran: [ChaosBackend] = []
        let outcomes = try await ChaosHarness.run([.zookeeper, .etcd]) { backend in
            ran.append(backend)
            throw ChaosFailure("\(backend) stub")
        }
        #expect(ran == [.zookeeper, .etcd])
        #expect(outcomes.map(\.backend) == [.zookeeper, .etcd])
        #expect(ChaosVerdict(requested: [.zookeeper, .etcd], seed: 42, outcomes: outcomes).missing.isEmpty)
    }
}
