/// The verdict of a whole `coord-chaos` invocation: it passed only if every backend it was asked
/// for produced a report, on the seed it was asked for, and every report passed.
///
/// A backend that produced no outcome at all (its run was skipped, or its report dropped) was not
/// tested, and the invariants of the others say nothing of it: that fails the invocation, naming it.
public struct ChaosVerdict: Sendable {
    /// The requested backends that produced no outcome, in the order they were requested.
    public let missing: [ChaosBackend]
    /// Why the invocation failed, one line per problem, each starting with its backend's name;
    /// empty when it passed.
    public let failures: [String]

    public var passed: Bool { failures.isEmpty }

    /// - Parameters:
    ///   - requested: the backends the invocation asked for (``ChaosConfiguration/backends``).
    ///   - seed: the seed it asked for, which every report must have run (`--seed` replays it).
    ///   - outcomes: what ``ChaosHarness/run(_:logger:)`` returned.
    public init(requested: [ChaosBackend], seed: UInt64, outcomes: [ChaosHarness.Outcome]) {
        let ran = Set(outcomes.map(\.backend))
        missing = requested.filter { !ran.contains($0) }
        var failures: [String] = []
        for outcome in outcomes {
            switch outcome {
            case .report(let report):
                let name = report.backend.rawValue
                let violated = report.results.filter { !$0.held }.map(\.invariant.rawValue)
                if !violated.isEmpty { failures.append("\(name): VIOLATED: \(violated.joined(separator: "; "))") }
                if !report.untried.isEmpty { failures.append("\(name): NOT TRIED: \(report.untried.joined(separator: "; "))") }
                if report.seed != seed { failures.append("\(name): RAN SEED \(report.seed), not the requested \(seed): --seed would not replay it") }
            case .failed(let backend, _):
                failures.append("\(backend.rawValue): RUN FAILED (its section above says why)")
            }
        }
        failures += missing.map { "\($0.rawValue): NO REPORT: requested, but its run never ran or its report was left out" }
        self.failures = failures
    }
}
