import CoordinationChaos
import CoordinationScheduler
import Testing

/// Evidence at the edges of the invariants, where a checker that misread them (found by mutating
/// it) would miss a violation or invent one, yet still pass ``InvariantCheckerTests``.
@Suite("The chaos invariant checker at its edges")
struct InvariantCheckerEdgeTests {
    typealias Made = InvariantCheckerTests

    @Test("two tokens that write at the same instant overlap")
    func touchingRunsOverlap() {
        var evidence = Made.cleanRun()
        evidence.writes += [
            Made.write(.begin, "t", token: 10, at: 1), Made.write(.end, "t", token: 10, at: 3),
            Made.write(.begin, "t", token: 20, worker: "w2-1", at: 3), Made.write(.end, "t", token: 20, worker: "w2-1", at: 4),
        ]
        #expect(Made.verdict(evidence, .noOverlap).violations == ["t: token 10 wrote until 3.000s, token 20 already from 3.000s"])
    }

    @Test("each token is compared with the longest-writing one before it, not only with the one just before")
    func overlapWithAnEarlierLongRun() {
        var evidence = Made.cleanRun()
        evidence.writes += [
            Made.write(.begin, "u", token: 10, at: 1),
            Made.write(.begin, "u", token: 20, worker: "w2-1", at: 2), Made.write(.end, "u", token: 20, worker: "w2-1", at: 3),
            Made.write(.begin, "u", token: 30, worker: "w3-1", at: 5), Made.write(.end, "u", token: 30, worker: "w3-1", at: 6),
            Made.write(.end, "u", token: 10, at: 10),
        ]
        #expect(
            Made.verdict(evidence, .noOverlap).violations == [
                "u: token 10 wrote until 10.000s, token 20 already from 2.000s",
                "u: token 10 wrote until 10.000s, token 30 already from 5.000s",
            ])
    }

    @Test("the shards of one job run at once: each is a resource of its own, and they do not overlap")
    func shardsRunAtOnce() {
        var evidence = Made.cleanRun()
        evidence.writes += [
            Made.write(.begin, "s", item: 1, token: 60, at: 10), Made.write(.begin, "s", item: 2, token: 61, worker: "w2-1", at: 10.5),
            Made.write(.end, "s", item: 1, token: 60, at: 12), Made.write(.end, "s", item: 2, token: 61, worker: "w2-1", at: 12.5),
        ]
        let verdict = Made.verdict(evidence, .noOverlap)
        #expect(verdict.held, "\(verdict.violations)")
    }

    @Test("the replayed fence is the newest token accepted, whatever the sink decided: each wrong decision is reported")
    func everyWrongFencingDecisionReported() {
        var evidence = Made.cleanRun()
        evidence.writes += [
            Made.write(.begin, "f", token: 20, worker: "w2-1", at: 10),
            Made.write(.end, "f", token: 10, at: 11),  // wrongly accepted
            Made.write(.end, "f", token: 15, worker: "w3-1", at: 12),  // wrongly accepted: the fence is still 20
            Made.write(.begin, "f", token: 30, worker: "w4-1", at: 13, accepted: false),  // wrongly refused
            Made.write(.begin, "f", token: 25, worker: "w3-1", at: 14),  // rightly accepted: a refusal moves no fence
        ]
        #expect(
            Made.verdict(evidence, .staleWritesRefused).violations == [
                "f: end with token 10 at 11.000s was accepted while the newest token was 20",
                "f: end with token 15 at 12.000s was accepted while the newest token was 20",
                "f: begin with token 30 at 13.000s was refused while the newest token was 20",
            ])
    }

    @Test("a cron fire time begun by one token, abandoned, and completed by another ran once")
    func cronFireBegunTwiceCompletedOnce() {
        var evidence = Made.cleanRun()
        evidence.writes += [
            Made.write(.begin, "tick", token: 50, run: "r-t3", worker: "w3-1", at: 10),
            Made.write(.begin, "tick", token: 60, run: "r-t3", worker: "w2-1", at: 12),
            Made.write(.end, "tick", token: 60, run: "r-t3", worker: "w2-1", at: 12.5),
        ]
        evidence.history += [
            Made.history("tick", run: "r-t3", token: 50, worker: "w3-1", .abandoned, created: 55),
            Made.history("tick", run: "r-t3", token: 60, worker: "w2-1", .succeeded, created: 61),
        ]
        let verdict = Made.verdict(evidence, .cronAtMostOnce)
        #expect(verdict.held, "\(verdict.violations)")
    }

    @Test("one token's success recorded twice for a fire time is two successes in history")
    func cronSuccessRecordedTwice() {
        var evidence = Made.cleanRun()
        evidence.history.append(Made.history("tick", run: "r-t2", token: 40, worker: "w3-1", .succeeded, created: 42, key: "/scheduler/history/tick/h-42"))
        #expect(Made.verdict(evidence, .cronAtMostOnce).violations.count == 1)
    }

    @Test("a cron job whose fire times only failed never succeeded")
    func cronJobThatOnlyFailed() {
        var evidence = Made.cleanRun()
        evidence.history.removeAll { $0.entry.job == "tick" }
        evidence.history.append(Made.history("tick", run: "r-t1", token: 30, worker: "w3-1", .failed, created: 31))
        #expect(Made.verdict(evidence, .noJobLost).violations == ["tick: the cron job never succeeded"])
    }

    @Test("a completion at the sink needs a history entry of its own token, not of another attempt of the run")
    func completionRecordedUnderAnotherToken() {
        var evidence = Made.cleanRun()
        evidence.history.removeAll { $0.entry.token == 30 }
        evidence.history.append(Made.history("tick", run: "r-t1", token: 35, worker: "w2-1", .abandoned, created: 36))
        #expect(Made.verdict(evidence, .historyComplete).violations == ["tick run r-t1 token 30: completed at the sink, no history entry"])
    }

    @Test("a success whose token only began at the sink never completed there")
    func successOfARunOnlyBegun() {
        var evidence = Made.cleanRun()
        evidence.writes.append(Made.write(.begin, "c", token: 50, at: 10))
        evidence.history.append(Made.history("c", token: 50, .succeeded, created: 52))
        #expect(
            Made.verdict(evidence, .historyComplete).violations == [
                "/scheduler/history/c/h-50-succeeded: success of c run r-1 token 50 never completed at the sink"
            ])
    }

    @Test("a stalled command that outlived the watch is a violation even when nobody took its run over")
    func commandOutlivedTheWatchUntaken() {
        var evidence = Made.cleanRun()
        evidence.stalls = [
            WorkerStall(worker: "w1-1", stoppedAt: 2, runs: [StalledRun(resource: ResourceID(job: "b", item: 0), token: 10, processes: [101], goneAt: nil)])
        ]
        #expect(
            Made.verdict(evidence, .commandsEndBeforeTakeover).violations == ["w1-1, stopped at 2.000s: the command of b (token 10) outlived the watch"])
    }

    @Test("a stalled command gone only at the instant its run is begun again did not end before the takeover")
    func commandGoneAtTheTakeover() {
        var evidence = Made.cleanRun()
        evidence.stalls = [Made.stall(commandsGoneAt: 5)]
        #expect(
            Made.verdict(evidence, .commandsEndBeforeTakeover).violations == [
                "w1-1, stopped at 2.000s: a was begun again with token 20 at 5.000s, its command (token 10) was gone only at 5.000s"
            ])
    }

    @Test("another worker's run, claimed before the stop and writing after the wake, is not the woken worker's write")
    func otherWorkersOldTokenAfterWake() {
        var evidence = Made.cleanRun()
        evidence.writes += [Made.write(.begin, "c", token: 12, worker: "w2-1", at: 3), Made.write(.end, "c", token: 12, worker: "w2-1", at: 6)]
        evidence.history.append(Made.history("c", token: 12, worker: "w2-1", .succeeded, created: 30))
        let verdict = Made.verdict(evidence, .silentAfterWake)
        #expect(verdict.held, "\(verdict.violations)")
    }

    @Test("a pause settles no run: a woken worker's late write of a paused job's run is under a claim it lost")
    func pauseSettlesNothing() {
        var evidence = Made.cleanRun()
        evidence.controls.append(JobControlRecord(job: "e", action: .pause, at: 5, acknowledgedRevision: 18, resumedRevision: 30))
        evidence.writes.append(Made.write(.end, "e", token: 12, at: 6))
        #expect(Made.verdict(evidence, .silentAfterWake).violations.count == 1)
    }

    @Test("what a woken worker held is a run's newest version before the stop, whatever order the versions were seen in")
    func heldIsTheNewestVersionBeforeTheStop() {
        // `c`'s run was pending at revision 8 and claimed by w1-1 at 12; w1-1, stopped at 15, rewrites it after the wake.
        var evidence = Made.cleanRun()
        var pending = Made.running("c", worker: "w1-1", attempt: 1)
        pending.status = .pending
        pending.worker = nil
        evidence.runs += [
            RunSighting(key: "/scheduler/jobs/c/r-1", record: Made.running("c", worker: "w1-1", attempt: 1), modRevision: 12),
            RunSighting(key: "/scheduler/jobs/c/r-1", record: pending, modRevision: 8),
            RunSighting(key: "/scheduler/jobs/c/r-1", record: Made.running("c", worker: "w1-1", attempt: 1), modRevision: 23),
        ]
        #expect(Made.verdict(evidence, .silentAfterWake).violations.count == 1)
    }

    @Test("the begin of a claim made before the pause, arriving while the job is paused, starts nothing")
    func begunBeforeThePause() {
        var evidence = Made.cleanRun()
        evidence.writes.append(Made.write(.begin, "p", token: 65, run: "r-p0", worker: "w2-1", at: 13.2))
        evidence.runs.append(Made.claim("p", run: "r-p0", at: 65, worker: "w2-1"))
        let verdict = Made.verdict(evidence, .nothingStartsWhilePaused)
        #expect(verdict.held, "\(verdict.violations)")
    }

    @Test("a later write of a running run (its token, progress) is no claim, and starts nothing while paused")
    func rewriteOfARunningRunIsNoClaim() {
        var evidence = Made.cleanRun()
        evidence.runs.append(Made.claim("p", run: "r-p0", at: 65, worker: "w2-1"))
        // The first write after the claim moves the record past its claim version.
        var rewrite = Made.claim("p", run: "r-p0", at: 75, worker: "w2-1")
        rewrite.version = 2
        #expect(!rewrite.isClaim)
        evidence.runs.append(rewrite)
        let verdict = Made.verdict(evidence, .nothingStartsWhilePaused)
        #expect(verdict.held, "\(verdict.violations)")
    }
}
