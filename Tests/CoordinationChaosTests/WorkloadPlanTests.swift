import Foundation
import Testing

@testable import CoordinationChaos

/// A chaos run's workload is only a test of what it contains: a plan that lost its cron job, its
/// sharded or long jobs, its failing first attempts or its controls still runs green. Every quick
/// phase must hold each kind, and the same seed must give the same workload (`--seed` replays it).
@Suite("The chaos workload")
struct WorkloadPlanTests {
    /// The workload of the quick phase for `seed`, with how many commands fail their first attempt.
    static func plan(seed: UInt64) throws -> (workload: Workload, failingFirst: Int) {
        var generator = SeededGenerator(seed: seed)
        var failingFirst = 0
        let workload = try Workload.plan(length: .seconds(80), generator: &generator) { work, failFirst in
            if failFirst { failingFirst += 1 }
            return "work \(work) fail \(failFirst)"
        }
        return (workload, failingFirst)
    }

    /// A control as text: its time, job and action (with the pause's hold, the replacement's spec id).
    static func describe(_ control: Workload.Control) -> String {
        let action =
            switch control.action {
            case .cancel: "cancel"
            case .pause(let hold): "pause \(hold)"
            case .replace(let spec): "replace \(spec.id)"
            }
        return "\(control.at) \(control.job) \(action)"
    }

    @Test("each quick phase has the cron job, one-shot, long and sharded jobs, and first attempts that fail", arguments: UInt64(0)..<10)
    func everyJobKind(seed: UInt64) throws {
        let (workload, failingFirst) = try Self.plan(seed: seed)
        let ids = workload.submissions.map(\.spec.id)
        #expect(workload.cronJobs == [Workload.cronJob])
        #expect(ids.filter { $0.hasPrefix("once-") }.count >= 40, "\(ids)")
        #expect(ids.filter { $0.hasPrefix(Workload.longJobPrefix) }.count >= 5, "\(ids)")
        let sharded = workload.submissions.filter { $0.spec.id.hasPrefix("shard-") }
        #expect(sharded.count >= 3)
        #expect(sharded.allSatisfy { $0.spec.shards == Workload.shards })
        #expect(workload.mustSucceed.filter { $0.job.hasPrefix("shard-") }.count == sharded.count * Workload.shards)
        #expect(failingFirst >= 1, "some first attempts fail, so that retries happen")
        #expect(zip(workload.submissions, workload.submissions.dropFirst()).allSatisfy { $0.at <= $1.at })
    }

    @Test("each quick phase cancels, pauses and replaces one-shot jobs", arguments: UInt64(0)..<10)
    func everyOneShotControl(seed: UInt64) throws {
        let controls = try Self.plan(seed: seed).workload.controls.filter { $0.job.hasPrefix("once-") }
        #expect(controls.contains { if case .cancel = $0.action { true } else { false } })
        #expect(controls.contains { if case .pause = $0.action { true } else { false } })
        #expect(controls.contains { if case .replace(let spec) = $0.action { spec.id == $0.job } else { false } })
    }

    @Test("over seeds, about every other long job is cancelled and every other sharded job paused")
    func longAndShardedControls() throws {
        var long = (jobs: 0, cancelled: 0)
        var sharded = (jobs: 0, paused: 0)
        for seed in UInt64(0)..<10 {
            let workload = try Self.plan(seed: seed).workload
            long.jobs += workload.submissions.filter { $0.spec.id.hasPrefix(Workload.longJobPrefix) }.count
            long.cancelled += workload.controls.filter { if case .cancel = $0.action { $0.job.hasPrefix(Workload.longJobPrefix) } else { false } }.count
            sharded.jobs += workload.submissions.filter { $0.spec.shards > 1 }.count
            sharded.paused += workload.controls.filter { if case .pause = $0.action { $0.job.hasPrefix("shard-") } else { false } }.count
        }
        #expect(long.cancelled >= long.jobs / 4 && long.cancelled <= long.jobs * 3 / 4, "\(long)")
        #expect(sharded.paused >= sharded.jobs / 4 && sharded.paused <= sharded.jobs * 3 / 4, "\(sharded)")
    }

    @Test("the same seed gives the same jobs and controls; another seed other ones")
    func seeded() throws {
        func text(_ seed: UInt64) throws -> [String] {
            let (workload, _) = try Self.plan(seed: seed)
            let payloads = workload.submissions.map { "\($0.at) \($0.spec.id) \(String(decoding: $0.spec.payload, as: UTF8.self))" }
            return payloads + workload.controls.map(Self.describe)
        }
        for seed in UInt64(0)..<5 {
            #expect(try text(seed) == text(seed), "seed \(seed)")
            #expect(try text(seed) != text(seed + 100), "seed \(seed)")
        }
    }
}
