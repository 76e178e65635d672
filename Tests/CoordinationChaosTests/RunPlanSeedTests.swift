import Foundation
import Testing

@testable import CoordinationChaos

/// `--seed N` replays a run only if everything the run plans (jobs, their controls, faults) is
/// drawn from the seed, through ``RunPlan/make(for:configuration:members:command:)``, which the
/// harness calls: a generator seeded from elsewhere, or a part handed a generator of its own,
/// planned another run under the printed seed, and nothing short of a whole run noticed.
@Suite("A chaos run's plan follows its seed")
struct RunPlanSeedTests {
    /// The plan the harness makes of `backend`'s quick run for `seed`, configured as `coord-chaos
    /// --quick --seed SEED` configures it.
    static func plan(_ backend: ChaosBackend, seed: UInt64) throws -> RunPlan {
        let configuration = try #require(
            ChaosConfiguration.requested(
                backend: backend.rawValue, seed: seed, soak: nil, coordBinary: URL(fileURLWithPath: "/nonexistent/coord")))
        return try RunPlan.make(for: backend, configuration: configuration, members: 3) { work, failFirst in
            "work \(work) fail \(failFirst)"
        }
    }

    /// The submissions as text: time, id, shards and command.
    static func submissions(_ plan: RunPlan) -> [String] {
        plan.workload.submissions.map { "\($0.at) \($0.spec.id) x\($0.spec.shards) \(String(decoding: $0.spec.payload, as: UTF8.self))" }
    }

    /// What the controls decided for each job, relative to its submission (so that it does not
    /// follow from the submission times alone): "none", or the action and how long after.
    static func controlDecisions(_ plan: RunPlan) -> [String: String] {
        let submitted = Dictionary(plan.workload.submissions.map { ($0.spec.id, $0.at) }, uniquingKeysWith: { first, _ in first })
        var decisions = Dictionary(plan.workload.submissions.filter { !$0.spec.schedule.isRecurring }.map { ($0.spec.id, "none") }, uniquingKeysWith: { first, _ in first })
        for control in plan.workload.controls {
            let after = control.at - submitted[control.job]!
            let action =
                switch control.action {
                case .cancel: "cancel"
                case .pause(let hold): "pause \(hold)"
                case .replace(let spec): "replace \(spec.id)"
                }
            decisions[control.job] = "\(action) \(after) after"
        }
        return decisions
    }

    @Test("the same seed gives the same jobs, controls and faults", arguments: ChaosBackend.allCases)
    func sameSeedSamePlan(backend: ChaosBackend) throws {
        for seed: UInt64 in [0, 1, 271_828] {
            let first = try Self.plan(backend, seed: seed)
            let again = try Self.plan(backend, seed: seed)
            #expect(Self.submissions(first) == Self.submissions(again), "seed \(seed)")
            #expect(first.workload.controls.map(WorkloadPlanTests.describe) == again.workload.controls.map(WorkloadPlanTests.describe), "seed \(seed)")
            #expect(first.faults == again.faults, "seed \(seed)")
        }
    }

    @Test("another seed gives other jobs and other faults", arguments: ChaosBackend.allCases)
    func otherSeedOtherPlan(backend: ChaosBackend) throws {
        for seed: UInt64 in [0, 1, 271_828] {
            let first = try Self.plan(backend, seed: seed)
            let other = try Self.plan(backend, seed: seed + 1)
            #expect(Self.submissions(first) != Self.submissions(other), "seed \(seed)")
            #expect(first.faults != other.faults, "seed \(seed)")
        }
    }

    /// The controls follow the submissions' times; this compares what the controls drew
    /// themselves. The first jobs come in the same order whatever the seed (a one-shot job at
    /// 0.5 s, a long one at 1 s), so controls drawn from a generator that ignored the seed would
    /// decide them alike on every seed.
    @Test("over seeds, each job every plan has is controlled differently", arguments: ChaosBackend.allCases)
    func controlsFollowTheSeed(backend: ChaosBackend) throws {
        let decisions = try (UInt64(0)..<20).map { try Self.controlDecisions(Self.plan(backend, seed: $0)) }
        let common = decisions.dropFirst().reduce(Set(decisions[0].keys)) { $0.intersection($1.keys) }
        #expect(common.isSuperset(of: ["once-0000", "long-000", "shard-000"]), "\(common.sorted())")
        for job in common.sorted() {
            let seen = Set(decisions.map { $0[job]! })
            #expect(seen.count > 1, "\(job) is controlled alike on every seed: \(seen)")
        }
    }
}
