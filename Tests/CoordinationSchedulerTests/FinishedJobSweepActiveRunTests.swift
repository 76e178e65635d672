import Coordination
import CoordinationScheduler
import CoordinationTestSupport
import Foundation
import Testing

/// A one-shot job triggered again, its run still running, is not finished, however long ago its
/// last run ended. Its key cannot be deleted while the run lives beneath it, but a history
/// longer than one transaction holds is deleted in chunks before the key: a sweep that took
/// such a job for finished deleted most of its history and left the job running.
@Suite(.serverLoadLimit) struct FinishedJobSweepActiveRunTests {
    static let start = Date(timeIntervalSince1970: 1_800_000_000)

    @Test(arguments: SchedulerBackend.all)
    func aJobWithARunningRunKeepsItsLongHistory(backend: SchedulerBackend) async throws {
        let clock = ManualWallClock(Self.start)
        let cluster = try TestCluster(backend, clock: clock.wallClock)
        defer { Task { await cluster.shutdown() } }
        let release = Signal()
        let hold = firstReturnsThenWaits(for: release)
        try await cluster.startWorker("w0", finishedJobRetention: .seconds(4), handlers: ["noop": { _ in RunOutput() }, "hold": hold])
        let client = try await cluster.client()
        let store = try await cluster.open()
        let layout = cluster.layout
        try await client.submit(JobSpec(id: "long", handler: "hold"))
        _ = try await cluster.waitForHistory("long's first run", successes("long"))
        // More entries than one transaction deletes, all of them finished at the start.
        let encoder = JSONEncoder()
        encoder.dateEncodingStrategy = .millisecondsSince1970
        let entry = Array(try encoder.encode(HistoryEntry(job: "long", finishedAt: Self.start, outcome: .skipped)))
        for _ in 0..<70 { _ = try await store.create(try layout.newHistoryEntry(of: "long"), value: entry, mode: .sequential) }
        _ = try await client.trigger("long")
        _ = try await cluster.waitForRuns(of: "long", "long's second run to start") { $0.contains { $0.status == .running } }

        // A finished job, due after long would be: once it is gone, the sweep has looked at long.
        clock.advance(by: 1)
        try await client.submit(JobSpec(id: "witness", handler: "noop"))
        _ = try await cluster.waitForHistory("the witness's run", successes("witness"))
        let witness = try layout.job("witness")
        try await withDeadline("the witness to be removed, one look after another") {
            while try await store.exists(witness) {
                try Task.checkCancellation()
                clock.advance(by: 1)
                await clock.waitForSleeper(until: clock.now.addingTimeInterval(1))
            }
        }
        #expect(try await store.exists(try layout.job("long")), "long has a running run")
        #expect(try await store.children(of: try layout.history(of: "long")).count == 71, "long's history is whole")

        release.fire()
        let history = try await cluster.waitForHistory("long's second run to end") { successes("long", 2)($0) }
        #expect(history.filter { $0.job == "long" }.count == 72)
    }
}
