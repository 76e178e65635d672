import CoordinationChaos
import Testing

/// The summary's verdict weighs every invariant, not the first ones.
@Suite("The chaos summary's verdict")
struct ChaosReportVerdictTests {
    /// The clean run with a run of `q`'s old incarnation begun after the replacement: only the
    /// last invariant is violated.
    static func oldIncarnationStarted() -> ChaosEvidence {
        var evidence = InvariantCheckerTests.cleanRun()
        // In arrival order: before the new incarnation's run begins, so that fencing takes it.
        let newIncarnation = evidence.writes.firstIndex { $0.resource.job == "q" && $0.token == 100 }!
        evidence.writes.insert(
            InvariantCheckerTests.write(.begin, "q", token: 97, run: InvariantCheckerTests.qOld, worker: "w2-1", at: 14.5), at: newIncarnation)
        return evidence
    }

    @Test("a run whose only violation is of the last invariant failed")
    func lastInvariantViolated() {
        let report = ChaosReportTests.report(Self.oldIncarnationStarted())
        #expect(report.results.filter { !$0.held }.map(\.invariant) == [Invariant.allCases.last!])
        #expect(!report.passed)
        #expect(report.markdown.hasPrefix("### etcd: FAILED"))
    }

    @Test("the evidence of every violated invariant is listed")
    func everyViolationListed() {
        var evidence = Self.oldIncarnationStarted()
        evidence.mustSucceed.insert(ResourceID(job: "lost", item: 0))
        let text = ChaosReportTests.report(evidence).markdown
        #expect(text.contains("**no job lost** violated (1):\n- lost: no success in history (outcomes: none)"))
        #expect(text.contains("**a replaced job's old incarnation starts no run after the replacement** violated (1):\n- q run \(InvariantCheckerTests.qOld)"))
    }
}
