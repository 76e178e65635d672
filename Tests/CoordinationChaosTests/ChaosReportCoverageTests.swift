import CoordinationChaos
import Testing

/// Invariants hold all the same through a run that injected nothing or sent no control: such a
/// run must not pass, or an injector that silently does nothing would go unseen.
@Suite("The chaos summary's verdict on what the run never tried")
struct ChaosReportCoverageTests {
    @Test("a run that injected no fault of one kind fails, naming the kind, though every invariant held")
    func missingFaultKind() {
        let withoutLeaderKill = ChaosReportTests.restOfTheKinds.filter { $0.kind != .leaderKill }
        let report = ChaosReportTests.report(InvariantCheckerTests.cleanRun(), otherKinds: withoutLeaderKill)
        #expect(report.results.allSatisfy { $0.held })
        #expect(!report.passed)
        #expect(report.untried == ["no fault 'SIGKILL leader, restart' was injected"])
        #expect(report.markdown.hasPrefix("### etcd: FAILED"))
        #expect(report.markdown.contains("**Not tried**"))
        #expect(report.markdown.contains("- no fault 'SIGKILL leader, restart' was injected"))
    }

    @Test("a run that carried out no control of one action fails, naming it")
    func missingControl() {
        for action in [JobControlRecord.Action.cancel, .pause, .replace] {
            var evidence = InvariantCheckerTests.cleanRun()
            evidence.controls.removeAll { $0.action == action }
            let report = ChaosReportTests.report(evidence)
            #expect(!report.passed, "\(action)")
            #expect(report.untried.count == 1 && report.untried[0].hasPrefix("no job was \(action == .cancel ? "cancelled" : "\(action.rawValue)d")"), "\(report.untried)")
        }
    }

    @Test("ZooKeeper takes no compaction, so a ZooKeeper run without one is not short of it")
    func zooKeeperNeedsNoCompaction() {
        let report = ChaosReportTests.report(InvariantCheckerTests.cleanRun(), backend: .zookeeper)
        #expect(report.untried.isEmpty)
        let withoutCompaction = ChaosReportTests.report(InvariantCheckerTests.cleanRun()).faults.filter { $0.kind != .compaction }
        var etcd = ChaosReportTests.report(InvariantCheckerTests.cleanRun())
        etcd.faults = withoutCompaction
        #expect(etcd.untried == ["no fault 'compaction at current revision' was injected"])
    }
}
