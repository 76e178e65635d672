import Coordination
import Foundation
import Testing

@testable import CoordinationScheduler

/// The activity stream's order when its two watches deliver out of step: a retry's new attempt
/// comes after the history entry of the attempt that failed.
@Suite struct ActivityTrackerTests {
    let layout = SchedulerLayout()
    let start = Date(timeIntervalSince1970: 1_800_000_000)

    @Test func aRetryWaitsForTheFailureItFollows() throws {
        var tracker = try primed()
        // The retry (attempt 2, written at revision 20 with the failure's entry) arrives first…
        #expect(try tracker.apply(.runs(.put(run(attempt: 2, status: .pending, revision: 20)))).isEmpty)
        // …and its start too: it waits behind the held change.
        #expect(try tracker.apply(.runs(.put(run(attempt: 2, status: .running, revision: 21)))).isEmpty)
        let released = try tracker.apply(.history(.put(entry(attempt: 1, revision: 20))))
        #expect(describe(released) == ["failed 1", "pending 2", "running 2"])
    }

    @Test func aRetryAfterItsFailureIsReportedAtOnce() throws {
        var tracker = try primed()
        #expect(describe(try tracker.apply(.history(.put(entry(attempt: 1, revision: 20))))) == ["failed 1"])
        #expect(describe(try tracker.apply(.runs(.put(run(attempt: 2, status: .pending, revision: 20))))) == ["pending 2"])
    }

    /// The end waits behind the held retry: let out at the end, the retry came before the failure
    /// it followed whenever the history watch lagged behind the whole run.
    @Test func aRunThatEndsWaitsBehindWhatItHeld() throws {
        var tracker = try primed()
        #expect(try tracker.apply(.runs(.put(run(attempt: 2, status: .pending, revision: 20)))).isEmpty)
        #expect(tracker.apply(.runs(.delete(try layout.run("job", "r")))).isEmpty)
        let released = try tracker.apply(.history(.put(entry(attempt: 1, revision: 20))))
        #expect(describe(released) == ["failed 1", "pending 2", "ended"])
    }

    /// ZooKeeper may report a retry and its claim as one change, at the claim's revision: the wait
    /// is for the failed attempt's entry, not for an entry at the run's revision.
    @Test func aRetrySeenOnlyOnceClaimedStillWaitsForTheFailure() throws {
        var tracker = try primed()
        #expect(try tracker.apply(.runs(.put(run(attempt: 2, status: .running, revision: 21)))).isEmpty)
        let released = try tracker.apply(.history(.put(entry(attempt: 1, revision: 20))))
        #expect(describe(released) == ["failed 1", "running 2"])
    }

    /// Nothing is held for good: the entry waited for may be deleted before the watch reads it.
    @Test func aDeletedHistoryEntryLetsOutWhatWaitedForIt() throws {
        var tracker = try primed()
        #expect(try tracker.apply(.runs(.put(run(attempt: 2, status: .pending, revision: 20)))).isEmpty)
        let released = tracker.apply(.history(.delete(try layout.history(of: "job").child("h-20"))))
        #expect(describe(released) == ["pending 2"])
    }

    /// History from before the stream is not reported without a time, but it lets out a retry
    /// that arrived before it.
    @Test func anUnreportedEntryStillLetsOutTheRetryThatFollowsIt() throws {
        var tracker = ActivityTracker(layout: layout)
        _ = tracker.apply(.runs(.snapshot([try run(attempt: 1, status: .pending, revision: 10)])))
        #expect(try tracker.apply(.runs(.put(run(attempt: 2, status: .pending, revision: 20)))).isEmpty)
        #expect(describe(tracker.apply(.history(.snapshot([try entry(attempt: 1, revision: 20)])))) == ["pending 2"])
    }

    /// A second retry held behind the first waits for its own failure's entry too: let out with
    /// the first, attempt 3 came before the failure of attempt 2 that caused it.
    @Test func aSecondRetryWaitsForTheFailureOfTheFirst() throws {
        var tracker = try primed()
        #expect(try tracker.apply(.runs(.put(run(attempt: 2, status: .pending, revision: 20)))).isEmpty)
        #expect(try tracker.apply(.runs(.put(run(attempt: 3, status: .pending, revision: 30)))).isEmpty)
        #expect(describe(try tracker.apply(.history(.put(entry(attempt: 1, revision: 20))))) == ["failed 1", "pending 2"])
        #expect(describe(try tracker.apply(.history(.put(entry(attempt: 2, revision: 30))))) == ["failed 2", "pending 3"])
    }

    /// A stream follows the history for as long as it is read: what it keeps of the entries it has
    /// seen must not outgrow the store's bounded history, whose old entries are trimmed.
    @Test func trimmedHistoryEntriesAreForgotten() throws {
        var tracker = try primed()
        for revision in Int64(20)..<1020 {
            #expect(describe(try tracker.apply(.history(.put(entry(attempt: 1, revision: revision))))) == ["failed 1"])
            _ = tracker.apply(.history(.delete(try layout.history(of: "job").child("h-" + String(revision)))))
        }
        #expect(tracker.historyKeysKept == 0)
        _ = try tracker.apply(.history(.put(entry(attempt: 1, revision: 2000))))
        _ = try tracker.apply(.history(.snapshot([entry(attempt: 1, revision: 2001)])))
        #expect(tracker.historyKeysKept == 1, "a resync keeps only what the snapshot holds")
    }

    /// A job's full history is trimmed by each write, another run's included, which the history
    /// watch may deliver while this run's retry waits: an entry seen already is not the one waited
    /// for, and its delete lets nothing out (it did: the retry came before its failure).
    @Test func trimmingAnEntrySeenAlreadyLetsNothingOut() throws {
        var tracker = ActivityTracker(layout: layout)
        _ = tracker.apply(.history(.snapshot([try entry(attempt: 1, revision: 5, run: "other")])))
        _ = tracker.apply(.runs(.snapshot([try run(attempt: 1, status: .pending, revision: 10)])))
        #expect(try tracker.apply(.runs(.put(run(attempt: 2, status: .pending, revision: 20)))).isEmpty)
        #expect(tracker.apply(.history(.delete(try layout.history(of: "job").child("h-5")))).isEmpty)
        #expect(describe(try tracker.apply(.history(.put(entry(attempt: 1, revision: 20))))) == ["failed 1", "pending 2"])
    }

    @Test func changesWithinOneAttemptAreNotHeld() throws {
        var tracker = try primed()
        #expect(describe(try tracker.apply(.runs(.put(run(attempt: 1, status: .running, revision: 15))))) == ["running 1"])
    }

    @Test func historyFromBeforeTheStreamIsReportedFromTheGivenTime() throws {
        var tracker = ActivityTracker(layout: layout, historySince: start.addingTimeInterval(5))
        let old = try entry(attempt: 1, revision: 3, finishedAt: start)
        let late = try entry(attempt: 3, revision: 9, finishedAt: start.addingTimeInterval(7))
        let early = try entry(attempt: 2, revision: 8, finishedAt: start.addingTimeInterval(6))
        // Before the watch was up: only what finished since, in the order it finished.
        #expect(describe(tracker.apply(.history(.snapshot([late, old, early])))) == ["failed 2", "failed 3"])
        #expect(describe(tracker.apply(.history(.put(try entry(attempt: 4, revision: 12, finishedAt: start))))) == ["failed 4"])
    }

    @Test func withoutATimeHistoryFromBeforeTheStreamIsLeftOut() throws {
        var tracker = ActivityTracker(layout: layout)
        #expect(tracker.apply(.history(.snapshot([try entry(attempt: 1, revision: 3)]))).isEmpty)
    }

    /// A tracker that has seen the (empty) history and the run's first attempt, pending.
    private func primed() throws -> ActivityTracker {
        var tracker = ActivityTracker(layout: layout)
        _ = tracker.apply(.history(.snapshot([])))
        let first = tracker.apply(.runs(.snapshot([try run(attempt: 1, status: .pending, revision: 10)])))
        #expect(describe(first) == ["pending 1"])
        return tracker
    }

    private func run(attempt: Int, status: RunRecord.Status, revision: Int64) throws -> Record {
        let record = RunRecord(
            job: "job", run: "r", item: 0, itemCount: 1, itemParameter: nil, scheduledAt: start, notBefore: start,
            attempt: attempt, status: status, worker: status == .running ? "w" : nil)
        return Record(
            key: try layout.run("job", "r"), value: try SchedulerJSON.encode(record), version: revision - 10,
            createRevision: 10, modRevision: revision, isEphemeral: false)
    }

    private func entry(attempt: Int, revision: Int64, finishedAt: Date? = nil, run: String = "r") throws -> Record {
        let entry = HistoryEntry(job: "job", run: run, worker: "w", attempt: attempt, finishedAt: finishedAt ?? start, outcome: .failed)
        let key = try layout.history(of: "job").child("h-" + String(revision))
        return Record(
            key: key, value: try SchedulerJSON.encode(entry), version: 0, createRevision: revision, modRevision: revision,
            isEphemeral: false)
    }

    private func describe(_ activities: [SchedulerActivity]) -> [String] {
        activities.map { activity in
            switch activity {
            case .run(let active): "\(active.record.status.rawValue) \(active.record.attempt)"
            case .runEnded: "ended"
            case .finished(let entry): "\(entry.outcome.rawValue) \(entry.attempt ?? 0)"
            }
        }
    }
}
