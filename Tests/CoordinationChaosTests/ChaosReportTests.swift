import Foundation
import CoordinationChaos
import CoordinationScheduler
import Testing

@Suite("The chaos summary")
struct ChaosReportTests {
    static let startedAt = Date(timeIntervalSince1970: 1_000_000)

    /// One fault of each kind but a worker stop and a compaction, after everything else: a run
    /// that tried every kind (see ``ChaosReport/untried``).
    static let restOfTheKinds = FaultKind.allCases.filter { ![.workerStop, .compaction].contains($0) }.enumerated().map { index, kind in
        FaultRecord(kind: kind, target: "member 0", at: 100 + Double(index), until: 100.5 + Double(index))
    }

    static func report(
        _ evidence: ChaosEvidence, backend: ChaosBackend = .etcd, moreFaults: [FaultRecord] = [], otherKinds: [FaultRecord] = restOfTheKinds
    ) -> ChaosReport {
        ChaosReport(
            backend: backend, seed: 42, faultPhase: .seconds(80),
            faults: [
                FaultRecord(kind: .workerStop, target: "w1-1", at: 3, until: 8, note: nil),
                FaultRecord(kind: .compaction, target: "cluster", at: 10, until: 10, note: "at revision 77"),
            ] + moreFaults + otherKinds,
            results: InvariantChecker.check(evidence), evidence: evidence,
            takeovers: [.workerStop: [2.0, 1.5, 2.5]], drainSeconds: 1, wallSeconds: 90, startedAt: startedAt)
    }

    @Test("a clean run's summary counts faults by kind and says every invariant held")
    func passed() {
        let text = Self.report(InvariantCheckerTests.cleanRun()).markdown
        #expect(text.hasPrefix("### etcd: PASSED (seed 42"))
        #expect(text.contains("| SIGSTOP worker > TTL | 1 |"))
        #expect(text.contains("| compaction at current revision | 1 |"))
        #expect(text.contains("| SIGKILL worker | 1 |"))
        #expect(!text.contains("Not tried"))
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

    @Test("a long gap between cron fire times is placed among the faults under way then")
    func longCronGap() {
        var evidence = InvariantCheckerTests.cleanRun()
        for (index, second) in [40.0, 41, 42, 60, 61].enumerated() {
            let entry = HistoryEntry(
                job: "tick", run: "r-g\(index)", item: 0, worker: "w3-1", token: 50 + Int64(index),
                scheduledAt: Self.startedAt.addingTimeInterval(second), finishedAt: Self.startedAt.addingTimeInterval(second + 0.2),
                outcome: .succeeded)
            evidence.history.append(HistorySighting(key: "/scheduler/history/tick/h-g\(index)", entry: entry, createRevision: 60 + Int64(index)))
        }
        let report = Self.report(evidence, moreFaults: [
            FaultRecord(kind: .leaderKill, target: "etcd2", at: 35, until: 37),
            FaultRecord(kind: .serverStop, target: "etcd1", at: 43, until: 46),
            FaultRecord(kind: .workerKill, target: "w2-1", at: 70, until: 71),
        ])
        let text = report.markdown
        #expect(text.contains("longest gap 18.0 s"))
        // From the heading to the next blank line.
        let section = (text.components(separatedBy: "Longest cron gap: ").last ?? "").components(separatedBy: "\n\n")[0]
        #expect(text.contains("Longest cron gap: fire times at 42.0 s and 60.0 s; faults under way then:"))
        #expect(section.contains("- 35.0–37.0 s: SIGKILL leader, restart on etcd2"), "ended less than 10 s before the gap")
        #expect(section.contains("- 43.0–46.0 s: SIGSTOP server, SIGCONT on etcd1"))
        #expect(!section.contains("w2-1") && !section.contains("w1-1"), "faults long before or after are left out")
    }

    @Test("fire times a second apart need no explanation")
    func noNotableGap() {
        #expect(!Self.report(InvariantCheckerTests.cleanRun()).markdown.contains("Longest cron gap"))
    }
}
