import CoordinationScheduler
import Foundation

/// What one backend's chaos run did and found.
public struct ChaosReport: Sendable {
    public var backend: ChaosBackend
    public var seed: UInt64
    public var faultPhase: Duration
    public var faults: [FaultRecord]
    public var results: [InvariantResult]
    public var evidence: ChaosEvidence
    public var takeovers: [FaultKind: [Double]]
    /// Seconds from the end of the faults until every job had succeeded.
    public var drainSeconds: Double
    public var wallSeconds: Double
    /// The wall-clock time the run started, which fault times count from.
    public var startedAt: Date

    public init(
        backend: ChaosBackend, seed: UInt64, faultPhase: Duration, faults: [FaultRecord], results: [InvariantResult], evidence: ChaosEvidence,
        takeovers: [FaultKind: [Double]], drainSeconds: Double, wallSeconds: Double, startedAt: Date
    ) {
        self.startedAt = startedAt
        self.backend = backend
        self.seed = seed
        self.faultPhase = faultPhase
        self.faults = faults
        self.results = results
        self.evidence = evidence
        self.takeovers = takeovers
        self.drainSeconds = drainSeconds
        self.wallSeconds = wallSeconds
    }

    /// A run passes when every invariant held and it tried everything it is there to try.
    public var passed: Bool { results.allSatisfy(\.held) && untried.isEmpty }

    /// What the run never tried: a fault kind its backend takes with none injected, a control
    /// (cancel, pause, replace) never carried out. A run that tried nothing of a kind proves
    /// nothing of it, and its invariants hold all the same, so it does not pass: a fault the
    /// injector never applied or controls never sent would otherwise go unseen.
    public var untried: [String] {
        let injected = Set(faults.map(\.kind))
        let faults = FaultKind.kinds(for: backend).filter { !injected.contains($0) }.map { "no fault '\($0.rawValue)' was injected" }
        let carriedOut = Set(evidence.controls.map(\.action))
        let done: [(JobControlRecord.Action, String)] = [(.cancel, "cancelled"), (.pause, "paused"), (.replace, "replaced")]
        let controls = done.filter { !carriedOut.contains($0.0) }.map { "no job was \($0.1) (the workload's controls)" }
        return faults + controls
    }

    /// The summary as Markdown: faults by kind, invariants, workload totals, takeover times, and
    /// the evidence of every violation.
    public var markdown: String {
        var lines = [
            "### \(backend.rawValue): \(passed ? "PASSED" : "FAILED") (seed \(seed), faults for \(Int(faultPhase / .seconds(1))) s, "
                + "drained in \(format(drainSeconds)) s, \(format(wallSeconds)) s in all)",
            "",
            "| Fault | Injected |",
            "|---|---:|",
        ]
        let counts = Dictionary(grouping: faults, by: \.kind).mapValues(\.count)
        for kind in FaultKind.kinds(for: backend) { lines.append("| \(kind.rawValue) | \(counts[kind] ?? 0) |") }
        lines += ["", "| Invariant | Result | Checked | Violations |", "|---|---|---:|---:|"]
        for result in results {
            lines.append("| \(result.invariant.rawValue) | \(result.held ? "held" : "**VIOLATED**") | \(result.checked) | \(result.violations.count) |")
        }
        let history = evidence.history.map(\.entry)
        let outcomes = Dictionary(grouping: history, by: \.outcome).mapValues(\.count)
        let begun = Set(evidence.writes.filter { $0.accepted && $0.report.kind == .begin }.map { "\($0.resource) \($0.token)" })
        let jobs = Set(evidence.mustSucceed.map(\.job))
        let cronFires = Set(history.filter { evidence.cronJobs.contains($0.job) && $0.outcome == .succeeded }.compactMap(\.run))
        // Fire times may be missed (misfire policy) while no leader can write; the longest gap
        // shows how long the cron job was down, which a count alone hides.
        let fireTimes = Set(history.filter { evidence.cronJobs.contains($0.job) && $0.outcome == .succeeded }.compactMap(\.scheduledAt)).sorted()
        let longest = zip(fireTimes, fireTimes.dropFirst()).max { $0.1.timeIntervalSince($0.0) < $1.1.timeIntervalSince($1.0) }
        let cronSpan = fireTimes.last.map { last in " over \(format(last.timeIntervalSince(fireTimes[0]))) s" } ?? ""
        let longestGap = longest.map { ", longest gap \(format($0.1.timeIntervalSince($0.0))) s" } ?? ""
        lines += [
            "", "| Workload | Count |", "|---|---:|",
            "| jobs submitted (one-shot and sharded) | \(jobs.count) |",
            "| items that must succeed (one-shot jobs, shards) | \(evidence.mustSucceed.count) |",
            "| jobs cancelled / paused / replaced while they ran | "
                + [JobControlRecord.Action.cancel, .pause, .replace].map { action in String(evidence.controls.count { $0.action == action }) }
                .joined(separator: " / ") + " |",
            "| cron fire times that succeeded | \(cronFires.count)\(cronSpan)\(longestGap) |",
            "| runs begun at the sink (tokens) | \(begun.count) |",
            "| sink writes accepted / refused as stale | \(evidence.writes.count { $0.accepted }) / \(evidence.writes.count { !$0.accepted }) |",
            "| history entries | \(history.count) (" + HistoryEntry.Outcome.allCases.compactMap { outcome in
                outcomes[outcome].map { "\(outcome.rawValue) \($0)" }
            }.joined(separator: ", ") + ") |",
        ]
        // A long gap is allowed while no leader can write, but is worth explaining: when it was,
        // and which faults were under way then.
        if let (from, to) = longest, to.timeIntervalSince(from) > Self.notableCronGap
        {
            let start = from.timeIntervalSince(startedAt)
            let end = to.timeIntervalSince(startedAt)
            let during = faults.filter { $0.at < end && $0.until > start - Self.faultReach }
            lines += ["", "Longest cron gap: fire times at \(format(start)) s and \(format(end)) s; faults under way then:"]
            lines += during.isEmpty ? ["- none"] : during.map(Self.describe)
        }
        if !takeovers.isEmpty {
            lines += ["", "| Takeover after | Runs | p50 | max |", "|---|---:|---:|---:|"]
            for kind in FaultKind.allCases {
                guard let times = takeovers[kind]?.sorted(), !times.isEmpty else { continue }
                lines.append("| \(kind.rawValue) | \(times.count) | \(format(times[(times.count - 1) / 2])) s | \(format(times.last!)) s |")
            }
        }
        if !untried.isEmpty {
            lines += ["", "**Not tried** (the run proves nothing of these; a longer phase or another seed may try them):"]
            lines += untried.map { "- \($0)" }
        }
        for result in results where !result.held {
            lines += ["", "**\(result.invariant.rawValue)** violated (\(result.violations.count)):"]
            lines += result.violations.prefix(25).map { "- \($0)" }
            if result.violations.count > 25 { lines.append("- … \(result.violations.count - 25) more") }
        }
        if !passed {
            lines += ["", "Faults, in order (seconds since the run started):"]
            lines += faults.map(Self.describe)
        }
        return lines.joined(separator: "\n")
    }

    /// Gaps between succeeded fire times (every second) longer than this are explained.
    static let notableCronGap: TimeInterval = 5
    /// How long after it ends a fault can still hold the cluster back (an election, a session's TTL).
    static let faultReach: TimeInterval = 10

    private static func describe(_ fault: FaultRecord) -> String {
        "- \(format(fault.at))–\(format(fault.until)) s: \(fault.kind.rawValue) on \(fault.target)\(fault.note.map { " (\($0))" } ?? "")"
    }

    private func format(_ value: Double) -> String { Self.format(value) }
    private static func format(_ value: Double) -> String { String(format: "%.1f", value) }
}
