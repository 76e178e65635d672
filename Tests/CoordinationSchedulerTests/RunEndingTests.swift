import Coordination
@testable import CoordinationScheduler
import CoordinationTestSupport
import Foundation
import Testing

/// What the history says about runs that did not end by themselves: stopped, replaced, or
/// impossible to claim.
@Suite(.serverLoadLimit) struct RunEndingTests {
    static let start = Date(timeIntervalSince1970: 1_800_000_000)

    /// A handler that waits until it is stopped, then fails with the output it had so far (as
    /// the shell handler does).
    static func waitsUntilStopped(_ started: Signal) -> JobHandler {
        { context in
            started.fire()
            do { try await Task.sleep(for: .seconds(3600)) } catch {}
            throw RunFailure("stopped", stdoutTail: "out of \(context.job)", stderrTail: "err of \(context.job)")
        }
    }

    @Test(arguments: SchedulerBackend.all)
    func stoppedRunsKeepTheirOutputTails(backend: SchedulerBackend) async throws {
        let cluster = try TestCluster(backend)
        defer { Task { await cluster.shutdown() } }
        let started = Signal()
        // Cancelled once its handler has started (a run only claimed would never start it).
        let cancelledStarted = Signal()
        try await cluster.startWorker(
            "w", handlers: ["wait": Self.waitsUntilStopped(started), "waitThenCancelled": Self.waitsUntilStopped(cancelledStarted)])
        let client = try await cluster.client()
        try await client.submit(JobSpec(id: "slow", handler: "wait", timeout: .milliseconds(100)))
        try await client.submit(JobSpec(id: "cancelled", handler: "waitThenCancelled"))
        try await withDeadline("the run to start") { await cancelledStarted.wait() }
        try await client.cancel("cancelled")
        let history = try await cluster.waitForHistory("a timeout and a cancellation") { $0.count >= 2 }
        let slow = try #require(history.first { $0.job == "slow" })
        #expect(slow.outcome == .timedOut)
        #expect(slow.message == "timed out after 100ms")
        #expect(slow.stdoutTail == "out of slow" && slow.stderrTail == "err of slow")
        let cancelled = try #require(history.first { $0.job == "cancelled" })
        #expect(cancelled.outcome == .cancelled)
        #expect(cancelled.message == "cancelled by request")
        #expect(cancelled.stdoutTail == "out of cancelled" && cancelled.stderrTail == "err of cancelled")
    }

    /// `--overlap replace` cancels the active run for a newer one: its entry says so, not that
    /// someone cancelled it.
    @Test(arguments: SchedulerBackend.all)
    func aReplacedRunSaysItWasReplaced(backend: SchedulerBackend) async throws {
        let clock = ManualWallClock(Self.start)
        let cluster = try TestCluster(backend, clock: clock.wallClock)
        defer { Task { await cluster.shutdown() } }
        let first = Self.start.addingTimeInterval(1)
        let firstOnly: JobHandler = { context in
            if context.scheduledAt == first { try await Task.sleep(for: .seconds(3600)) }
            return RunOutput()
        }
        try await cluster.startWorker("w", handlers: ["h": firstOnly])
        let client = try await cluster.client()
        try await client.submit(JobSpec(id: "replace", handler: "h", schedule: .cron(try CronExpression("* * * * * *")), overlap: .replace))
        clock.advance(by: 1)
        _ = try await cluster.waitForRuns(of: "replace", "the first run to start") { $0.first?.status == .running }
        clock.advance(by: 1)
        let history = try await cluster.waitForHistory("the replaced run and its successor") { successes("replace")($0) }
        let replaced = try #require(history.first { $0.scheduledAt == first })
        #expect(replaced.outcome == .cancelled)
        // The leader's reason names the newer fire time (how it writes times is the leader's affair).
        #expect(replaced.message?.hasPrefix("replaced by the fire time ") == true, "\(replaced.message ?? "-")")
    }

    /// A worker never crashes on stored data: a run whose job id leaves no room for its claim key
    /// (no valid key can name the claim) fails, saying why, and the worker goes on.
    @Test(arguments: SchedulerBackend.all)
    func aRunThatCannotBeClaimedFailsWithoutCrashingTheWorker(backend: SchedulerBackend) async throws {
        let cluster = try TestCluster(backend)
        defer { Task { await cluster.shutdown() } }
        let layout = cluster.layout
        let now = Date()
        let run = RunID.scheduled(at: now, item: 0)
        // The shortest job id whose run key is valid and whose claim key is not.
        let long = try #require(
            (900...CoordinationLimits.maxKeyBytes).lazy.map { String(repeating: "j", count: $0) }.first { id in
                (try? layout.run(id, run)) != nil && (try? layout.claim(id, run)) == nil
            })
        // Written directly, as a store written by another tool (or an earlier coord) could hold it.
        let store = try await cluster.open()
        let spec = JobSpec(id: long, handler: "h")
        _ = try await store.create(
            try layout.job(long), value: try JobRecord(spec: spec, state: JobState(lastMaterialized: now, submittedAt: now)).encoded(),
            mode: .persistent)
        _ = try await store.create(try layout.history(of: long), value: [], mode: .persistent)
        let record = RunRecord(job: long, run: run, item: 0, itemCount: 1, itemParameter: nil, scheduledAt: now, notBefore: now)
        _ = try await store.create(try layout.run(long, run), value: try SchedulerJSON.encode(record), mode: .persistent)

        let calls = Shared<[String: Int]>([:])
        try await cluster.startWorker("w", handlers: ["h": countingHandler(calls)])
        let history = try await cluster.waitForHistory("the run's failure") { $0.contains { $0.job == long } }
        let entry = try #require(history.first { $0.job == long })
        #expect(entry.outcome == .failed)
        #expect(entry.run == run && entry.worker == "w")
        #expect(entry.message?.hasPrefix("the run cannot be claimed, so never run: invalid key") == true, "\(entry.message ?? "-")")
        _ = try await cluster.waitForRuns(of: long, "the run to be gone") { $0.isEmpty }
        #expect(calls.value.isEmpty, "the handler never ran")

        // The worker is still at work.
        let client = try await cluster.client()
        try await client.submit(JobSpec(id: "after", handler: "h"))
        _ = try await cluster.waitForHistory("a run after it") { successes("after")($0) }
    }

    /// Nor on a name in a job's history that no valid key can hold (written by another
    /// ZooKeeper client, which allows longer paths): the write that ends a run, trimming the
    /// history, leaves it alone.
    /// A handler's message and tails larger than a store value still end the run: the entry
    /// keeps 4 KB of each (the message's start, the tails' ends). Before, the end's transaction
    /// failed with `valueTooLarge` on every try, and the run stayed "running" under its claim.
    @Test(arguments: SchedulerBackend.all)
    func anOversizedOutputIsCutAndTheRunEnds(backend: SchedulerBackend) async throws {
        let cluster = try TestCluster(backend)
        defer { Task { await cluster.shutdown() } }
        let huge = String(repeating: "é", count: 600_000)  // 1.2 MB of UTF-8
        let loud: JobHandler = { _ in RunOutput(message: "start " + huge, stdoutTail: huge + " end", stderrTail: huge) }
        let failing: JobHandler = { _ in throw RunFailure("failed " + huge, stdoutTail: huge + " out") }
        try await cluster.startWorker("w", handlers: ["loud": loud, "failing": failing])
        let client = try await cluster.client()
        try await client.submit(JobSpec(id: "loud", handler: "loud"))
        try await client.submit(JobSpec(id: "failing", handler: "failing"))
        let history = try await cluster.waitForHistory("both runs' ends") { $0.count >= 2 }
        let ok = try #require(history.first { $0.job == "loud" })
        #expect(ok.outcome == .succeeded)
        let message = try #require(ok.message)
        #expect(message.hasPrefix("start éé") && message.hasSuffix("…") && message.utf8.count <= HistoryEntry.textLimit)
        let out = try #require(ok.stdoutTail)
        #expect(out.hasSuffix("éé end") && out.utf8.count <= HistoryEntry.textLimit && out.utf8.count >= HistoryEntry.textLimit - 1)
        #expect((ok.stderrTail?.utf8.count ?? 0) <= HistoryEntry.textLimit)
        let failed = try #require(history.first { $0.job == "failing" })
        #expect(failed.outcome == .failed)
        #expect(failed.message?.hasPrefix("failed éé") == true && (failed.message?.utf8.count ?? .max) <= HistoryEntry.textLimit)
        #expect(failed.stdoutTail?.hasSuffix("é out") == true)
        #expect(try await client.activeRuns(of: "loud").isEmpty, "no run left running")
        #expect(try await client.activeRuns(of: "failing").isEmpty, "no run left running")
    }

    /// Text within the limit is kept whole; beyond it, cuts fall between characters.
    @Test func historyTextIsCutBetweenCharacters() {
        let short = "ok"
        #expect(HistoryEntry.head(of: short) == short && HistoryEntry.tail(of: short) == short)
        let exact = String(repeating: "a", count: HistoryEntry.textLimit)
        #expect(HistoryEntry.head(of: exact) == exact && HistoryEntry.tail(of: exact) == exact)
        // 4-byte characters after one ASCII byte: no cut lands on a boundary by chance.
        let wide = "x" + String(repeating: "😀", count: 2_000)
        let head = HistoryEntry.head(of: wide)
        #expect(head.utf8.count <= HistoryEntry.textLimit && head.hasPrefix("x😀") && head.hasSuffix("😀…"))
        #expect(!head.unicodeScalars.contains("\u{FFFD}"))
        let tail = HistoryEntry.tail(of: wide)
        // Marked as cut ("…", with no line to start at), then whole characters.
        #expect(tail.utf8.count <= HistoryEntry.textLimit && tail.utf8.count > HistoryEntry.textLimit - 4 - 3)
        #expect(tail.hasPrefix("…") && tail.dropFirst().allSatisfy { $0 == "😀" })
    }

    @Test func aForeignHistoryEntryTooLongForAKeyIsLeftAlone() async throws {
        try await PythonScript.require("kazoo", install: Kazoo.install)
        // One entry kept: the end of the run trims the history, the foreign entry first.
        let cluster = try TestCluster(.zookeeper, layout: SchedulerLayout(historyLimit: 1))
        defer { Task { await cluster.shutdown() } }
        let release = Signal()
        try await cluster.startWorker("w", handlers: ["h": { _ in await release.wait(); return RunOutput() }])
        let client = try await cluster.client()
        // A retry makes the history's bound exceed the limit, so that the end reads the entries.
        try await client.submit(JobSpec(id: "j", handler: "h", retry: RetryPolicy(maxRetries: 1)))
        _ = try await cluster.waitForRuns(of: "j", "the run to start") { $0.first?.status == .running }
        let folder = try cluster.layout.history(of: "j")
        let name = "a" + String(repeating: "x", count: CoordinationLimits.maxKeyBytes - folder.path.utf8.count)
        #expect(throws: CoordinationError.self) { try folder.child(name) }
        let foreign = cluster.namespace.path + folder.path + "/" + name
        _ = try await Kazoo.run("write", [foreign: ""])
        release.fire()
        // The namespace's recursive delete at shutdown removes the foreign entry too.
        let history = try await cluster.waitForHistory("the run's success") { successes("j")($0) }
        #expect(history.map(\.outcome) == [.succeeded])
    }
}
