import Coordination
import CoordinationScheduler
import Foundation
import CoordinationTestSupport
import Testing

/// A downstream system that refuses writes carrying an older fencing token than one it has seen
/// for the same job: what a handler's side effects should go through.
final class FencedSink: Sendable {
    private let state = Shared((highest: [String: Int64](), accepted: [String: [Int64]](), refused: 0))

    /// Accepts the write when `token` is at least the highest seen for `job`.
    func write(job: String, token: Int64) -> Bool {
        state.withLock { state in
            if let highest = state.highest[job], token < highest {
                state.refused += 1
                return false
            }
            state.highest[job] = token
            state.accepted[job, default: []].append(token)
            return true
        }
    }

    var accepted: [String: [Int64]] { state.withLock { $0.accepted } }
    var refused: Int { state.withLock { $0.refused } }
}

@Suite(.serverLoadLimit) struct ChaosTests {
    @Test(arguments: SchedulerBackend.all)
    func expiringWorkersAtRandomLosesNoJobAndRunsNoneTwice(backend: SchedulerBackend) async throws {
        let cluster = try TestCluster(backend)
        defer { Task { await cluster.shutdown() } }
        let sink = FencedSink()
        let handler: JobHandler = { context in
            _ = sink.write(job: context.job, token: context.fencingToken)
            try await Task.sleep(for: .milliseconds(Int64.random(in: 5...40)))
            guard sink.write(job: context.job, token: context.fencingToken) else { throw RunFailure("fenced off by the sink") }
            return RunOutput()
        }
        var stores: [any CoordinationStore] = []
        for index in 0..<4 {
            stores.append(try await cluster.startWorker("w\(index)", capacity: 3, handlers: ["work": handler]).store)
        }
        let client = try await cluster.client()
        let jobs = 60
        let retry = RetryPolicy(maxRetries: 20, backoffBase: .milliseconds(5), backoffCap: .milliseconds(20))
        for index in 0..<jobs { try await client.submit(JobSpec(id: "job-\(index)", handler: "work", retry: retry)) }
        let victims = stores
        let chaos = Task {
            // Pacing for the chaos itself, not synchronisation: expire someone every 30 ms. A
            // victim caught between two sessions may not be expirable at that moment (ZooKeeper's
            // forced expiry needs a live session to take over): count the expiries that took effect.
            var expired = 0
            for _ in 0..<10 {
                try await Task.sleep(for: .milliseconds(30))
                if (try? await backend.expire(victims.randomElement()!)) != nil { expired += 1 }
            }
            return expired
        }
        let history: [HistoryEntry]
        do {
            history = try await cluster.waitForHistory("every job to succeed", limit: .seconds(180)) { entries in
                Set(entries.filter { $0.outcome == .succeeded }.map(\.job)).count == jobs
            }
        } catch {
            // Say where the run stands, so that a stuck job can be told from a slow one.
            var lines: [String] = []
            for index in 0..<jobs {
                let runs = (try? await client.activeRuns(of: "job-\(index)")) ?? []
                for run in runs {
                    lines.append("job-\(index) \(run.record.run): \(run.record.status) on \(run.record.worker ?? "-") token \(run.token.map(String.init) ?? "none")")
                }
            }
            let workers = ((try? await client.workers()) ?? []).map(\.id).sorted()
            Issue.record("still active when the wait ended: \(lines.isEmpty ? "nothing" : lines.joined(separator: "; ")); live workers: \(workers)")
            throw error
        }
        #expect(try await chaos.value >= 5, "most of the ten expiries took effect")
        let successes = history.filter { $0.outcome == .succeeded }
        #expect(successes.count == jobs, "no job succeeded twice")
        #expect(history.allSatisfy { [.succeeded, .abandoned, .failed].contains($0.outcome) })
        for (job, tokens) in sink.accepted {
            #expect(tokens == tokens.sorted(), "the sink saw \(job)'s tokens only grow")
        }
        // Each job's success carries the highest token its sink accepted: no stale attempt won.
        let accepted = sink.accepted
        for entry in successes { #expect(entry.token == accepted[entry.job]?.last) }
    }
}
