import CoordinationChaos
import CoordinationScheduler
import Foundation
import Testing

/// Hand-made evidence that breaks each invariant, and a clean run that breaks none.
@Suite("The chaos invariant checker")
struct InvariantCheckerTests {
    static func write(
        _ kind: SinkReport.Kind, _ job: String, item: Int = 0, token: Int64, run: String = "r-1", worker: String = "w1-1", at: Double,
        accepted: Bool = true
    ) -> SinkWrite {
        SinkWrite(
            report: SinkReport(kind: kind, resource: ResourceID(job: job, item: item), token: token, run: run, worker: worker, attempt: 1),
            at: at, accepted: accepted)
    }

    static func history(
        _ job: String, item: Int = 0, run: String = "r-1", token: Int64, worker: String = "w1-1", _ outcome: HistoryEntry.Outcome,
        created: Int64 = 100, key: String? = nil
    ) -> HistorySighting {
        HistorySighting(
            key: key ?? "/scheduler/history/\(job)/h-\(token)-\(outcome.rawValue)",
            entry: HistoryEntry(job: job, run: run, item: item, worker: worker, token: token, finishedAt: Date(), outcome: outcome),
            createRevision: created)
    }

    /// One-shot `a` runs as token 10 on w1-1, which is taken over (abandoned) and run again as
    /// token 20 on w2-1; cron `tick` fires twice; w1-1 was stopped and woken without writing.
    /// Besides, on w4-1: `k` is cancelled while it runs (token 55; a takeover settles it at 62),
    /// `p` paused from revision 70 to 80 and then run (token 85), and `q` replaced at revision 95
    /// while incarnation `aaaaaa` ran (token 90), incarnation `bbbbbb` then run (token 100).
    static func cleanRun() -> ChaosEvidence {
        var evidence = uncontrolledRun()
        evidence.controls = [
            JobControlRecord(job: "k", action: .cancel, at: 12, acknowledgedRevision: 60),
            JobControlRecord(job: "p", action: .pause, at: 13, acknowledgedRevision: 70, resumedRevision: 80),
            JobControlRecord(job: "q", action: .replace, at: 14, acknowledgedRevision: 95, incarnation: "bbbbbb"),
        ]
        evidence.writes += [
            write(.begin, "k", token: 55, run: kRun, worker: "w4-1", at: 11),
            write(.begin, "q", token: 90, run: qOld, worker: "w4-1", at: 13.5),
            write(.begin, "p", token: 85, run: "r-p", worker: "w4-1", at: 14),
            write(.end, "p", token: 85, run: "r-p", worker: "w4-1", at: 14.5),
            write(.begin, "q", token: 100, run: qNew, worker: "w4-1", at: 15),
            write(.end, "q", token: 100, run: qNew, worker: "w4-1", at: 15.5),
        ]
        evidence.history += [
            history("k", run: kRun, token: 55, worker: "w4-1", .cancelled, created: 63),
            history("q", run: qOld, token: 90, worker: "w4-1", .cancelled, created: 93),
            history("p", run: "r-p", token: 85, worker: "w4-1", .succeeded, created: 87),
            history("q", run: qNew, token: 100, worker: "w4-1", .succeeded, created: 102),
        ]
        evidence.runs += [
            claim("k", run: kRun, at: 55), claim("k", run: kRun, at: 62, version: 3, cancelRequested: true),
            claim("p", run: "r-p", at: 85), claim("q", run: qOld, at: 90), claim("q", run: qNew, at: 100),
        ]
        return evidence
    }

    static let kRun = "r-0000000000000011-000-kkkkkk"
    static let qOld = "r-0000000000000013-000-aaaaaa"
    static let qNew = "r-0000000000000015-000-bbbbbb"

    /// A claim's write of `run` at revision `at`, as the observer sees it (on w4-1 unless said).
    static func claim(_ job: String, run: String, at revision: Int64, version: Int64 = 1, worker: String = "w4-1", cancelRequested: Bool = false)
        -> RunSighting
    {
        var record = RunRecord(
            job: job, run: run, item: 0, itemCount: 1, itemParameter: nil, scheduledAt: Date(timeIntervalSince1970: 0),
            notBefore: Date(timeIntervalSince1970: 0), status: .running, worker: worker, cancelRequested: cancelRequested)
        record.claimVersion = version
        return RunSighting(key: "/scheduler/jobs/\(job)/\(run)", record: record, modRevision: revision, version: version)
    }

    /// ``cleanRun()`` without its controlled jobs.
    static func uncontrolledRun() -> ChaosEvidence {
        ChaosEvidence(
            writes: [
                write(.begin, "a", token: 10, at: 1),
                write(.begin, "a", token: 20, worker: "w2-1", at: 5),
                write(.end, "a", token: 10, at: 6, accepted: false),
                write(.end, "a", token: 20, worker: "w2-1", at: 7),
                write(.begin, "tick", token: 30, run: "r-t1", worker: "w3-1", at: 8),
                write(.end, "tick", token: 30, run: "r-t1", worker: "w3-1", at: 8.1),
                write(.begin, "tick", token: 40, run: "r-t2", worker: "w3-1", at: 9),
                write(.end, "tick", token: 40, run: "r-t2", worker: "w3-1", at: 9.1),
            ],
            history: [
                history("a", token: 10, .abandoned, created: 25),
                history("a", token: 20, worker: "w2-1", .succeeded, created: 27),
                history("tick", run: "r-t1", token: 30, worker: "w3-1", .succeeded, created: 31),
                history("tick", run: "r-t2", token: 40, worker: "w3-1", .succeeded, created: 41),
            ],
            runs: [
                RunSighting(key: "/scheduler/jobs/a/r-1", record: running("a", worker: "w1-1", attempt: 1), modRevision: 11),
                RunSighting(key: "/scheduler/jobs/a/r-1", record: running("a", worker: "w2-1", attempt: 2), modRevision: 21),
            ],
            mustSucceed: [ResourceID(job: "a", item: 0)], cronJobs: ["tick"],
            wakes: [WorkerWake(worker: "w1-1", stopRevision: 15, wakeRevision: 22, wokeAt: 5.5)],
            stalls: [stall(commandsGoneAt: 4.5)], workerProcesses: 3)
    }

    /// w1-1 stopped alone at 2 s running `a` (token 10), which w2-1 begins again at 5 s.
    static func stall(commandsGoneAt: Double?) -> WorkerStall {
        WorkerStall(
            worker: "w1-1", stoppedAt: 2, runs: [StalledRun(resource: ResourceID(job: "a", item: 0), token: 10, processes: [101, 102], goneAt: commandsGoneAt)])
    }

    static func running(_ job: String, worker: String, attempt: Int) -> RunRecord {
        RunRecord(
            job: job, run: "r-1", item: 0, itemCount: 1, itemParameter: nil, scheduledAt: Date(timeIntervalSince1970: 0),
            notBefore: Date(timeIntervalSince1970: 0), attempt: attempt, status: .running, worker: worker)
    }

    static func verdict(_ evidence: ChaosEvidence, _ invariant: Invariant) -> InvariantResult {
        InvariantChecker.check(evidence).first { $0.invariant == invariant }!
    }

    @Test("a clean run holds every invariant, and checks something for each")
    func cleanRunHolds() {
        let results = InvariantChecker.check(Self.cleanRun())
        #expect(results.map(\.invariant) == Invariant.allCases)
        for result in results {
            #expect(result.held, "\(result.invariant.rawValue): \(result.violations)")
            #expect(result.checked > 0, "\(result.invariant.rawValue) checked nothing")
        }
    }

    @Test("a job without a success in history is lost; so is a cron job that never succeeded")
    func lostJob() {
        var evidence = Self.cleanRun()
        evidence.mustSucceed.insert(ResourceID(job: "s", item: 2))
        evidence.history.removeAll { $0.entry.job == "tick" }
        let result = Self.verdict(evidence, .noJobLost)
        #expect(!result.held)
        #expect(result.violations.contains { $0.hasPrefix("s#2: no success") })
        #expect(result.violations.contains { $0.hasPrefix("tick: the cron job never succeeded") })
    }

    @Test("two tokens of one job writing at the same time overlap")
    func overlap() {
        var evidence = Self.cleanRun()
        // Token 10 ends after token 20 began, and the sink (wrongly) accepted it.
        evidence.writes[2].accepted = true
        let result = Self.verdict(evidence, .noOverlap)
        #expect(result.violations == ["a: token 10 wrote until 6.000s, token 20 already from 5.000s"])
        // Another shard of the same job does not overlap with it.
        var shards = Self.cleanRun()
        shards.writes.append(Self.write(.begin, "a", item: 1, token: 15, at: 1.5))
        #expect(Self.verdict(shards, .noOverlap).held)
    }

    @Test("a stale write that was accepted, or a current one refused, breaks the fencing rule")
    func staleAccepted() {
        var evidence = Self.cleanRun()
        evidence.writes[2].accepted = true
        #expect(Self.verdict(evidence, .staleWritesRefused).violations.count == 1)
        var refused = Self.cleanRun()
        refused.writes[3].accepted = false
        #expect(!Self.verdict(refused, .staleWritesRefused).held)
    }

    @Test("a cron fire time completed by two tokens, or succeeded twice in history, ran twice")
    func cronTwice() {
        var evidence = Self.cleanRun()
        evidence.writes.append(Self.write(.begin, "tick", token: 35, run: "r-t1", worker: "w2-1", at: 8.5))
        evidence.writes.append(Self.write(.end, "tick", token: 35, run: "r-t1", worker: "w2-1", at: 8.6))
        let sink = Self.verdict(evidence, .cronAtMostOnce)
        #expect(sink.violations == ["tick/r-t1: completed at the sink by tokens [30, 35]"])

        var history = Self.cleanRun()
        history.history.append(Self.history("tick", run: "r-t2", token: 45, worker: "w2-1", .succeeded, created: 46))
        #expect(Self.verdict(history, .cronAtMostOnce).violations.count == 1)
    }

    @Test("a completion the sink saw but history lacks, or a success history has but the sink never saw, leaves history incomplete")
    func historyIncomplete() {
        var missing = Self.cleanRun()
        missing.history.removeAll { $0.entry.token == 30 }
        #expect(Self.verdict(missing, .historyComplete).violations == ["tick run r-t1 token 30: completed at the sink, no history entry"])

        var invented = Self.cleanRun()
        invented.history.append(Self.history("a", token: 25, worker: "w3-1", .succeeded, created: 26, key: "/scheduler/history/a/h-9"))
        #expect(Self.verdict(invented, .historyComplete).violations.count == 1)

        // A run that completed at the sink and was then abandoned (its worker died) is recorded.
        var abandoned = Self.cleanRun()
        abandoned.writes.append(Self.write(.end, "b", token: 50, at: 10))
        abandoned.history.append(Self.history("b", token: 50, .abandoned, created: 52))
        #expect(Self.verdict(abandoned, .historyComplete).held)
    }

    @Test("a woken worker that writes under an old claim is caught at the sink, in history and in run records")
    func wokenWorkerWrites() {
        // The sink accepts its old token after the wake (nobody took the job over yet).
        var sink = Self.cleanRun()
        sink.writes.append(Self.write(.end, "c", token: 12, at: 6))
        #expect(Self.verdict(sink, .silentAfterWake).violations.count == 1)

        // It records its old run's success after the wake.
        var history = Self.cleanRun()
        history.history.append(Self.history("c", token: 12, .succeeded, created: 30))
        #expect(Self.verdict(history, .silentAfterWake).violations.count == 1)
        // `abandoned`, written by whoever took over, is fine; so is an entry created before the wake.
        var abandoned = Self.cleanRun()
        abandoned.history.append(Self.history("c", token: 12, .abandoned, created: 30))
        abandoned.history.append(Self.history("d", token: 13, .succeeded, created: 14))
        #expect(Self.verdict(abandoned, .silentAfterWake).held)

        // It rewrites its old run record (same attempt) after the wake.
        var runs = Self.cleanRun()
        runs.runs.append(RunSighting(key: "/scheduler/jobs/a/r-1", record: Self.running("a", worker: "w1-1", attempt: 1), modRevision: 23))
        #expect(Self.verdict(runs, .silentAfterWake).violations.count == 1)
        // A new claim of a later attempt after the wake is its right.
        var retried = Self.cleanRun()
        retried.runs.append(RunSighting(key: "/scheduler/jobs/a/r-1", record: Self.running("a", worker: "w1-1", attempt: 3), modRevision: 23))
        #expect(Self.verdict(retried, .silentAfterWake).held)
    }

    @Test("a stalled worker's command still running when its run is begun again elsewhere is a violation")
    func stalledWorkersCommandOutlivesTakeover() {
        var late = Self.cleanRun()
        late.stalls = [Self.stall(commandsGoneAt: 5.2)]
        let verdict = Self.verdict(late, .commandsEndBeforeTakeover)
        #expect(verdict.violations == ["w1-1, stopped at 2.000s: a was begun again with token 20 at 5.000s, its command (token 10) was gone only at 5.200s"])
        var never = Self.cleanRun()
        never.stalls = [Self.stall(commandsGoneAt: nil)]
        #expect(
            Self.verdict(never, .commandsEndBeforeTakeover).violations == [
                "w1-1, stopped at 2.000s: the command of a (token 10) outlived the watch, begun again with token 20 at 5.000s"
            ])
        // A run not begun again, or begun again only by its own token: a command gone late breaks nothing.
        var untaken = Self.cleanRun()
        untaken.stalls = [
            WorkerStall(worker: "w1-1", stoppedAt: 2, runs: [StalledRun(resource: ResourceID(job: "b", item: 0), token: 10, processes: [101], goneAt: 9)])
        ]
        #expect(Self.verdict(untaken, .commandsEndBeforeTakeover).held)
        var sameToken = Self.cleanRun()
        sameToken.stalls = [
            WorkerStall(worker: "w1-1", stoppedAt: 2, runs: [StalledRun(resource: ResourceID(job: "a", item: 0), token: 20, processes: [101], goneAt: 9)])
        ]
        #expect(Self.verdict(sameToken, .commandsEndBeforeTakeover).held)
    }

    /// The double run a worker whose session guard does not fire leaves at the sink: its relays
    /// cut, `b`'s command (token 10 on w2-1) runs on, w3-1 takes the run over (token 20), and the
    /// old command's end is refused. Fencing keeps the accepted writes apart, so only the refusal
    /// shows that two commands were at work at once.
    static func doubleRunRefused() -> ChaosEvidence {
        var evidence = cleanRun()
        evidence.writes += [
            write(.begin, "b", token: 10, run: "r-b", worker: "w2-1", at: 10),
            write(.begin, "b", token: 20, run: "r-b", worker: "w3-1", at: 13),
            write(.end, "b", token: 10, run: "r-b", worker: "w2-1", at: 14, accepted: false),
            write(.end, "b", token: 20, run: "r-b", worker: "w3-1", at: 15),
        ]
        evidence.history.append(history("b", run: "r-b", token: 20, worker: "w3-1", .succeeded, created: 60))
        evidence.mustSucceed.insert(ResourceID(job: "b", item: 0))
        return evidence
    }

    @Test("a write refused as stale from a worker that was not frozen is a double run, caught")
    func staleWriteOfUnfrozenWorker() {
        // Named by raw value, so that this also says, of a checker without the invariant, that it missed the double run.
        let violated = InvariantChecker.check(Self.doubleRunRefused()).filter { !$0.held }.map(\.invariant.rawValue)
        #expect(violated == ["only a frozen worker's commands write after their runs are taken over"])
        #expect(
            Self.verdict(Self.doubleRunRefused(), .staleOnlyWhenFrozen).violations == [
                "b run r-b: end of token 10 from w2-1, not frozen, refused at 14.000s; token 20 (w3-1) wrote from 13.000s: "
                    + "two of its commands were at work at once"
            ])
        // A woken worker's old write is what fencing is for (the clean run has one) ...
        var woken = Self.doubleRunRefused()
        woken.wakes.append(WorkerWake(worker: "w2-1", stopRevision: 12, wakeRevision: 25, wokeAt: 13.5))
        #expect(Self.verdict(woken, .staleOnlyWhenFrozen).held)
        // ... but not one under a claim made after the stop, nor one refused before the wake.
        var laterClaim = woken
        laterClaim.wakes[laterClaim.wakes.count - 1].stopRevision = 9
        #expect(Self.verdict(laterClaim, .staleOnlyWhenFrozen).violations.count == 1)
        var beforeWake = woken
        beforeWake.wakes[beforeWake.wakes.count - 1].wokeAt = 14.5
        #expect(Self.verdict(beforeWake, .staleOnlyWhenFrozen).violations.count == 1)
    }

    @Test("a cut-off worker's command still running when its run is begun again elsewhere is a violation, though it never wrote again")
    func cutOffWorkersCommandOutlivesTakeover() {
        // w2-1 cut off at 10 s running `b` (token 10); w3-1 begins it again at 13 s; the old
        // command is killed only at 14.5 s, when the healed worker hears its session expired:
        // it never writes again, so the sink refuses nothing, and only its processes tell.
        var evidence = Self.cleanRun()
        evidence.writes += [
            Self.write(.begin, "b", token: 10, run: "r-b", worker: "w2-1", at: 10),
            Self.write(.begin, "b", token: 20, run: "r-b", worker: "w3-1", at: 13),
            Self.write(.end, "b", token: 20, run: "r-b", worker: "w3-1", at: 15),
        ]
        evidence.history.append(Self.history("b", run: "r-b", token: 20, worker: "w3-1", .succeeded, created: 60))
        evidence.stalls.append(
            WorkerStall(
                worker: "w2-1", stoppedAt: 10,
                runs: [StalledRun(resource: ResourceID(job: "b", item: 0), token: 10, processes: [201, 202], goneAt: 14.5)], how: "cut off"))
        #expect(
            Self.verdict(evidence, .commandsEndBeforeTakeover).violations == [
                "w2-1, cut off at 10.000s: b was begun again with token 20 at 13.000s, its command (token 10) was gone only at 14.500s"
            ])
        // Stopped by its session guard before the takeover, as it should be.
        evidence.stalls[evidence.stalls.count - 1].runs[0].goneAt = 11.6
        #expect(Self.verdict(evidence, .commandsEndBeforeTakeover).held)
    }

    @Test("a cancelled job that starts a run after the cancel is caught at the sink and in run records")
    func runAfterCancel() {
        // A view from before the cancel request claims the abandoned run as if never cancelled, and runs it.
        var evidence = Self.cleanRun()
        evidence.runs.append(Self.claim("k", run: Self.kRun, at: 64, version: 5, worker: "w2-1"))
        evidence.writes.append(Self.write(.begin, "k", token: 64, run: Self.kRun, worker: "w2-1", at: 16))
        let verdict = Self.verdict(evidence, .nothingStartsAfterCancel)
        #expect(
            verdict.violations == [
                "k run \(Self.kRun) begun with token 64 on w2-1 at 16.000s, after its cancel was acknowledged at revision 60 (12.000s)",
                "/scheduler/jobs/k/\(Self.kRun) claimed by w2-1 (attempt 1) at revision 64, without the cancel request acknowledged at revision 60",
            ])
        // The other invariants do not see it: the command began alone, under a newer token.
        #expect(InvariantChecker.check(evidence).filter { !$0.held }.map(\.invariant) == [.nothingStartsAfterCancel])
        // A begin of a claim made before the cancel, reaching the sink after it, is no new run.
        var late = Self.cleanRun()
        late.writes.append(Self.write(.begin, "k", token: 58, run: Self.kRun, worker: "w2-1", at: 16))
        #expect(Self.verdict(late, .nothingStartsAfterCancel).held)
    }

    @Test("a paused job that starts a run before it is resumed is caught; after the resume it may")
    func runWhilePaused() {
        var evidence = Self.cleanRun()
        evidence.writes.append(Self.write(.begin, "p", token: 75, run: "r-p", worker: "w2-1", at: 13.5))
        evidence.runs.append(Self.claim("p", run: "r-p", at: 75, worker: "w2-1"))
        #expect(
            Self.verdict(evidence, .nothingStartsWhilePaused).violations == [
                "p run r-p begun with token 75 on w2-1 at 13.500s, paused from revision 70 until 80",
                "/scheduler/jobs/p/r-p claimed by w2-1 at revision 75, paused from revision 70 until 80",
            ])
        // Never resumed: the pause lasts to the end.
        var unresumed = Self.cleanRun()
        unresumed.controls[1].resumedRevision = nil
        #expect(Self.verdict(unresumed, .nothingStartsWhilePaused).violations.count == 2)
    }

    @Test("a run of a replaced job's old incarnation started after the removal is caught; the new incarnation's runs are not")
    func oldIncarnationAfterReplace() {
        var evidence = Self.cleanRun()
        evidence.writes.append(Self.write(.begin, "q", token: 97, run: Self.qOld, worker: "w2-1", at: 14.5))
        evidence.runs.append(Self.claim("q", run: Self.qOld, at: 97, version: 3, worker: "w2-1"))
        let verdict = Self.verdict(evidence, .replacedStartsNothing)
        #expect(verdict.violations.count == 2)
        #expect(verdict.violations.first?.hasPrefix("q run \(Self.qOld) of an older incarnation begun with token 97 on w2-1") == true)
    }

    @Test("a cancelled job is settled by a success, its cancellation or an ending after the cancel; a replaced one only by its newest incarnation's success")
    func controlledJobsLost() {
        var evidence = Self.cleanRun()
        evidence.mustSucceed.formUnion([ResourceID(job: "k", item: 0), ResourceID(job: "p", item: 0), ResourceID(job: "q", item: 0)])
        #expect(Self.verdict(evidence, .noJobLost).held)
        // Only the old incarnation succeeded: the replacement was lost.
        var replacedLost = evidence
        replacedLost.history.removeAll { $0.entry.run == Self.qNew }
        replacedLost.history.append(Self.history("q", run: Self.qOld, token: 90, worker: "w4-1", .succeeded, created: 94, key: "/h/q-old"))
        #expect(
            Self.verdict(replacedLost, .noJobLost).violations == [
                "q (replace at 14.000s): no success of incarnation bbbbbb in history (outcomes: cancelled×1, succeeded×1)"
            ])
        // A cancelled job with neither a success nor a cancellation in history was lost.
        var cancelledLost = evidence
        cancelledLost.history.removeAll { $0.entry.job == "k" }
        #expect(Self.verdict(cancelledLost, .noJobLost).violations == ["k (cancel at 12.000s): no success, cancellation or ending after the cancel in history (outcomes: none)"])
        // Its run's worker lost as the cancel came: it ends abandoned, not retried, recorded after the cancel.
        var abandoned = cancelledLost
        abandoned.history.append(Self.history("k", run: Self.kRun, token: 55, worker: "w4-1", .abandoned, created: 61))
        #expect(Self.verdict(abandoned, .noJobLost).held)
        // An ending recorded before the cancel settles nothing.
        abandoned.history[abandoned.history.count - 1].createRevision = 59
        #expect(!Self.verdict(abandoned, .noJobLost).held)
        // A job nobody cancelled is not settled by a cancellation.
        var uncancelled = evidence
        uncancelled.controls.removeAll { $0.job == "k" }
        #expect(Self.verdict(uncancelled, .noJobLost).violations == ["k: no success in history (outcomes: cancelled×1)"])
    }

    @Test("a woken worker's late write of a run cancelled while it was stopped, which nobody took over, is no write under a lost claim")
    func wokenWriteOfCancelledRun() {
        var evidence = Self.cleanRun()
        evidence.controls.append(JobControlRecord(job: "e", action: .cancel, at: 5, acknowledgedRevision: 18))
        evidence.writes.append(Self.write(.end, "e", token: 12, at: 6))
        #expect(Self.verdict(evidence, .silentAfterWake).held)
        // Taken over all the same (a newer token began): the late write is under a lost claim.
        var takenOver = evidence
        takenOver.writes.append(Self.write(.begin, "e", token: 19, worker: "w2-1", at: 5.8))
        #expect(Self.verdict(takenOver, .silentAfterWake).violations.count == 1)
    }

    @Test("a worker process that exits by itself is a violation, named with how it ended")
    func workerExitIsAViolation() {
        var exited = Self.cleanRun()
        exited.workerExits = ["w1-3 (status 1)"]
        let verdict = Self.verdict(exited, .workersStayUp)
        #expect(verdict.violations == ["worker w1-3 (status 1) exited by itself; see its log"])
        #expect(verdict.checked == 3)
    }
}
