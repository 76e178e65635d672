import CoordinationChaos
import Testing

@Suite("The chaos summary")
struct ChaosReportTests {
    static func report(_ evidence: ChaosEvidence) -> ChaosReport {
        ChaosReport(
            backend: .etcd, seed: 42, faultPhase: .seconds(80),
            faults: [
                FaultRecord(kind: .workerStop, target: "w1-1", at: 3, until: 8, note: nil),
                FaultRecord(kind: .compaction, target: "cluster", at: 10, until: 10, note: "at revision 77"),
            ],
            results: InvariantChecker.check(evidence), evidence: evidence,
            takeovers: [.workerStop: [2.0, 1.5, 2.5]], drainSeconds: 1, wallSeconds: 90)
    }

    @Test("a clean run's summary counts faults by kind and says every invariant held")
    func passed() {
        let text = Self.report(InvariantCheckerTests.cleanRun()).markdown
        #expect(text.hasPrefix("### etcd: PASSED (seed 42"))
        #expect(text.contains("| SIGSTOP worker > TTL | 1 |"))
        #expect(text.contains("| compaction at current revision | 1 |"))
        #expect(text.contains("| SIGKILL worker | 0 |"))
        #expect(text.contains("| no job lost | held | 2 | 0 |"))
        #expect(text.contains("| SIGSTOP worker > TTL | 3 | 2.0 s | 2.5 s |"))
        #expect(!text.contains("VIOLATED"))
    }

    @Test("a failed run's summary names the violated invariant, its evidence and the faults in order")
    func failed() {
        var evidence = InvariantCheckerTests.cleanRun()
        evidence.mustSucceed.insert(ResourceID(job: "lost", item: 0))
        let report = Self.report(evidence)
        #expect(!report.passed)
        let text = report.markdown
        #expect(text.hasPrefix("### etcd: FAILED"))
        #expect(text.contains("| no job lost | **VIOLATED** | 3 | 1 |"))
        #expect(text.contains("- lost: no success in history (outcomes: none)"))
        #expect(text.contains("- 10.0–10.0 s: compaction at current revision on cluster (at revision 77)"))
    }
}
