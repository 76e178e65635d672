import Coordination
import Foundation
import Testing

@testable import CoordinationScheduler

/// The worker's claim order, kept up to date change by change: it must offer exactly what a full
/// re-evaluation of the view would.
struct ClaimQueueTests {
    let layout = SchedulerLayout()
    let me = "w1"
    let info = WorkerInfo(capacity: 4, weight: 1, labels: [:], handlers: ["h"])
    let start = Date(timeIntervalSince1970: 1_000_000)
    var revision: Int64 = 0

    mutating func record(_ key: Key, _ bytes: [UInt8], version: Int64 = 0) -> Record {
        revision += 1
        return Record(key: key, value: bytes, version: version, createRevision: revision, modRevision: revision, isEphemeral: false)
    }

    /// Applies the event to both the view and the queue, as the worker's main loop does.
    func deliver(_ event: WatchEvent, _ folder: SchedulerView.Folder, _ view: inout SchedulerView, _ queue: inout ClaimQueue) {
        view.apply(event, to: folder)
        queue.note(event, folder: folder, layout: layout, view: view)
    }

    mutating func loadedView(_ queue: inout ClaimQueue) throws -> SchedulerView {
        var view = SchedulerView(layout: layout)
        for folder: SchedulerView.Folder in [.jobs, .runs, .workers, .wide] { deliver(.snapshot([]), folder, &view, &queue) }
        deliver(.put(record(try layout.worker(me), try SchedulerJSON.encode(info))), .workers, &view, &queue)
        return view
    }

    mutating func submit(
        _ job: String, priority: Int = 0, at offset: TimeInterval, notBefore: TimeInterval? = nil,
        into view: inout SchedulerView, _ queue: inout ClaimQueue
    ) throws {
        let when = start.addingTimeInterval(offset)
        // A run that waits is a one-shot job's at a time: one for now waits for nothing.
        let spec = JobSpec(id: job, handler: "h", schedule: .once(at: notBefore.map { start.addingTimeInterval($0) }), priority: priority)
        deliver(.put(record(try layout.job(job), try SchedulerJSON.encode(JobRecord(spec: spec, state: JobState(submittedAt: when))))), .jobs, &view, &queue)
        let run = RunRecord(
            job: job, run: "r", item: 0, itemCount: 1, itemParameter: nil, scheduledAt: when,
            notBefore: start.addingTimeInterval(notBefore ?? offset))
        deliver(.put(record(try layout.run(job, "r"), try SchedulerJSON.encode(run))), .runs, &view, &queue)
    }

    /// A change of the job's state: its record (with the same spec as ``submit``) at `version`.
    mutating func deliverState(
        of job: String, _ state: JobState, version: Int64, into view: inout SchedulerView, _ queue: inout ClaimQueue
    ) throws {
        let stored = JobRecord(spec: try #require(view.specs[job]), state: state)
        deliver(.put(record(try layout.job(job), try SchedulerJSON.encode(stored), version: version)), .jobs, &view, &queue)
    }

    /// A loaded view with jobs `a` and `b`, one run each (`a`'s first), and the key of `a`'s run.
    mutating func twoJobs() throws -> (ClaimQueue, SchedulerView, Key) {
        var queue = ClaimQueue()
        var view = try loadedView(&queue)
        try submit("a", at: 1, into: &view, &queue)
        try submit("b", at: 2, into: &view, &queue)
        return (queue, view, try layout.run("a", "r"))
    }

    func chosen(_ queue: inout ClaimQueue, _ view: SchedulerView, now: TimeInterval, limit: Int = 4, workers: Int = 1)
        -> ([String], Date?)
    {
        let at = start.addingTimeInterval(now)
        queue.refresh(from: view, worker: me, info: info, now: at)
        let members = [me] + (1..<max(1, workers)).map { "other-\($0)" }
        let (entries, wake) = queue.choose(now: at, limit: limit, workers: members, me: me, skipping: [])
        return (entries.map(\.job), wake)
    }

    /// A retry waits its back-off (10 s) and no longer, on this worker's clock: written by a
    /// worker whose clock is an hour ahead, or seen here before this clock stepped back an hour.
    /// A one-shot job's time stays a time of day.
    @Test mutating func aRetryWaitsNoLongerThanItsBackOffOnThisClock() throws {
        var queue = ClaimQueue()
        var view = try loadedView(&queue)
        let spec = JobSpec(id: "retried", handler: "h", retry: RetryPolicy(maxRetries: 3, backoffBase: .seconds(10)))
        deliver(
            .put(record(try layout.job(spec.id), try SchedulerJSON.encode(JobRecord(spec: spec, state: JobState(submittedAt: start))))),
            .jobs, &view, &queue)
        var retry = RunRecord(
            job: spec.id, run: "r", item: 0, itemCount: 1, itemParameter: nil, scheduledAt: start,
            notBefore: start.addingTimeInterval(3600 + 10), attempt: 2)
        deliver(.put(record(try layout.run(spec.id, "r"), try SchedulerJSON.encode(retry))), .runs, &view, &queue)
        try submit("at-a-time", at: 0, notBefore: 3600, into: &view, &queue)
        var (jobs, wake) = chosen(&queue, view, now: 0)
        #expect(jobs.isEmpty)
        #expect(wake == start.addingTimeInterval(10), "the writer's clock an hour ahead")

        retry.notBefore = start.addingTimeInterval(20)
        deliver(.put(record(try layout.run(spec.id, "r"), try SchedulerJSON.encode(retry), version: 1)), .runs, &view, &queue)
        (_, wake) = chosen(&queue, view, now: 10)
        #expect(wake == start.addingTimeInterval(20))
        (jobs, wake) = chosen(&queue, view, now: 10 - 3600)  // stepped back an hour
        #expect(jobs.isEmpty)
        #expect(wake == start.addingTimeInterval(20 - 3600))
        (jobs, wake) = chosen(&queue, view, now: 20 - 3600)
        #expect(jobs == ["retried"])
        #expect(wake == start.addingTimeInterval(3600), "the one-shot job's time stays")
    }

    @Test mutating func offersPriorityThenFireTimeAndFollowsChanges() throws {
        var queue = ClaimQueue()
        var view = try loadedView(&queue)
        try submit("late", at: 3, into: &view, &queue)
        try submit("early", at: 1, into: &view, &queue)
        try submit("urgent", priority: 5, at: 9, into: &view, &queue)
        try submit("future", at: 2, notBefore: 100, into: &view, &queue)
        var (jobs, wake) = chosen(&queue, view, now: 10)
        #expect(jobs == ["urgent", "early", "late"])
        #expect(wake == start.addingTimeInterval(100))

        // Paused: gone; resumed: back.
        var paused = JobState(submittedAt: start)
        paused.paused = true
        try deliverState(of: "early", paused, version: 1, into: &view, &queue)
        (jobs, _) = chosen(&queue, view, now: 10)
        #expect(jobs == ["urgent", "late"])
        try deliverState(of: "early", JobState(submittedAt: start), version: 2, into: &view, &queue)
        (jobs, _) = chosen(&queue, view, now: 10)
        #expect(jobs == ["urgent", "early", "late"])

        // Held (running by a member, under the registration it claimed with): gone; its worker's
        // session ends (its member key goes, the claim with it): offered again, as abandoned.
        deliver(.put(record(try layout.worker("w2"), try SchedulerJSON.encode(info))), .workers, &view, &queue)
        var running = try #require(view.run(at: try layout.run("urgent", "r"))).record
        running.status = .running
        running.worker = "w2"
        running.registration = view.registration(of: "w2")
        deliver(.put(record(try layout.run("urgent", "r"), try SchedulerJSON.encode(running), version: 1)), .runs, &view, &queue)
        (jobs, _) = chosen(&queue, view, now: 10)
        #expect(jobs == ["early", "late"])
        deliver(.delete(try layout.worker("w2")), .workers, &view, &queue)
        (jobs, _) = chosen(&queue, view, now: 10)
        #expect(jobs == ["urgent", "early", "late"])

        // The future run becomes due; a finished run leaves.
        deliver(.delete(try layout.run("late", "r")), .runs, &view, &queue)
        (jobs, wake) = chosen(&queue, view, now: 100)
        #expect(jobs == ["urgent", "early", "future"])
        #expect(wake == nil)
    }

    @Test mutating func severalWorkersTakeDifferentRunsOfTheFront() throws {
        var queue = ClaimQueue()
        var view = try loadedView(&queue)
        for index in 0..<40 { try submit("j\(index)", at: TimeInterval(index), into: &view, &queue) }
        let (alone, _) = chosen(&queue, view, now: 100, limit: 2, workers: 1)
        #expect(alone == ["j0", "j1"])
        // With four workers each picks two of the first 32 (2 slots × 4 workers × 4), by its own spread.
        #expect(ClaimQueue.windowPerWorkerAndSlot == 4)
        let (shared, _) = chosen(&queue, view, now: 100, limit: 2, workers: 4)
        #expect(shared.count == 2)
        #expect(Set(shared).isSubset(of: Set((0..<32).map { "j\($0)" })))
    }

    /// Each run of the front has one preferred worker (the lowest spread among the live ones):
    /// a worker takes those it is preferred for first, so workers with one view seldom collide.
    @Test mutating func eachWorkerTakesTheRunsItIsPreferredForFirst() throws {
        var scratch = ClaimQueue()
        var view = try loadedView(&scratch)
        for index in 0..<40 { try submit("j\(index)", at: TimeInterval(index), into: &view, &scratch) }
        let workers = ["w1", "w2", "w3", "w4"]
        let front = (0..<(2 * workers.count * ClaimQueue.windowPerWorkerAndSlot)).map { "j\($0)" }
        func spread(_ worker: String, _ job: String) throws -> UInt64 { HashRing.hash(worker + (try layout.run(job, "r")).path) }
        for worker in workers {
            var queue = ClaimQueue()
            queue.refresh(from: view, worker: worker, info: info, now: start.addingTimeInterval(100))
            let (entries, _) = queue.choose(
                now: start.addingTimeInterval(100), limit: 2, workers: workers, me: worker, skipping: [])
            let preferred = try front.filter { job in try workers.allSatisfy { try $0 == worker || spread($0, job) > spread(worker, job) } }
            let chosen = entries.map(\.job)
            // The window is wide enough that each worker is preferred for both runs it takes.
            #expect(preferred.count >= 2, "\(worker) prefers only \(preferred)")
            #expect(chosen.count == 2 && Set(chosen).isSubset(of: Set(front)))
            #expect(Set(chosen.prefix(preferred.count)).isSubset(of: Set(preferred)), "\(worker) took \(chosen), prefers \(preferred)")
        }
    }

    /// A lost claim race takes the run out of the order until the run or its claim changes, so a
    /// lagging worker does not walk past every run the others took on each choice.
    @Test mutating func aLostRaceLeavesTheOrderUntilTheRunOrItsClaimChanges() throws {
        var (queue, view, runA) = try twoJobs()
        var (jobs, _) = chosen(&queue, view, now: 10)
        #expect(jobs == ["a", "b"])
        let version = try #require(view.run(at: runA)).version
        queue.lostRace(runA, version: version)
        (jobs, _) = chosen(&queue, view, now: 10)
        #expect(jobs == ["b"])
        // Another job's change does not bring it back.
        try submit("c", at: 3, into: &view, &queue)
        (jobs, _) = chosen(&queue, view, now: 10)
        #expect(jobs == ["b", "c"])
        // The winner's claim arrives as the run's change: the race is over, and the run is held
        // while its worker is a member with the registration it claimed under.
        deliver(.put(record(try layout.worker("w2"), try SchedulerJSON.encode(info))), .workers, &view, &queue)
        var won = try #require(view.run(at: runA)).record
        won.status = .running
        won.worker = "w2"
        won.registration = view.registration(of: "w2")
        deliver(.put(record(runA, try SchedulerJSON.encode(won), version: version + 1)), .runs, &view, &queue)
        queue.forgetLostRace(runA)  // what a worker does on a change of the run
        (jobs, _) = chosen(&queue, view, now: 10)
        #expect(jobs == ["b", "c"])
        // Its worker's session ends, its member key with it: offered again, as abandoned.
        deliver(.delete(try layout.worker("w2")), .workers, &view, &queue)
        (jobs, _) = chosen(&queue, view, now: 10)
        #expect(jobs == ["a", "b", "c"])
    }

    /// A takeover refused because the run's worker is alive after all (its member key not in the
    /// view yet: the claim, which the view does not show, refused it) stays out until that
    /// worker's membership changes.
    @Test mutating func aTakeoverLostToAWorkerNotSeenYetEndsWhenItsMembershipChanges() throws {
        var (queue, view, runA) = try twoJobs()
        var running = try #require(view.run(at: runA)).record
        running.status = .running
        running.worker = "w3"
        running.registration = 99
        deliver(.put(record(runA, try SchedulerJSON.encode(running), version: 1)), .runs, &view, &queue)
        var (jobs, _) = chosen(&queue, view, now: 10)
        #expect(jobs == ["a", "b"], "looks abandoned: w3 is no member in the view")
        queue.lostRace(runA, version: 1)
        (jobs, _) = chosen(&queue, view, now: 10)
        #expect(jobs == ["b"])
        // w3's member key arrives, with the registration the run names: held.
        let w3 = Record(
            key: try layout.worker("w3"), value: try SchedulerJSON.encode(info), version: 0, createRevision: 99, modRevision: 99,
            isEphemeral: true)
        deliver(.put(w3), .workers, &view, &queue)
        (jobs, _) = chosen(&queue, view, now: 10)
        #expect(jobs == ["b"])
        // It leaves: abandoned for real, and offered again.
        deliver(.delete(w3.key), .workers, &view, &queue)
        (jobs, _) = chosen(&queue, view, now: 10)
        #expect(jobs == ["a", "b"])
    }

    /// A claim also checks the job's state it was judged by (a pause must not be overtaken), so
    /// a race lost to a state change, even one that leaves the run claimable, ends with the next
    /// change of that job's state, including after a pause and resume.
    @Test mutating func aRaceLostToTheJobsStateEndsWhenTheStateChanges() throws {
        var (queue, view, runA) = try twoJobs()
        queue.lostRace(runA, version: try #require(view.run(at: runA)).version)
        var (jobs, _) = chosen(&queue, view, now: 10)
        #expect(jobs == ["b"])
        var paused = JobState(submittedAt: start)
        paused.paused = true
        func deliverState(_ state: JobState, version: Int64) throws {
            try self.deliverState(of: "a", state, version: version, into: &view, &queue)
            queue.forgetLostRaces(ofJob: "a")  // what a worker does on a change of the job's record
        }
        try deliverState(paused, version: 1)
        (jobs, _) = chosen(&queue, view, now: 10)
        #expect(jobs == ["b"], "paused")
        try deliverState(JobState(submittedAt: start), version: 2)
        (jobs, _) = chosen(&queue, view, now: 10)
        #expect(jobs == ["a", "b"], "resumed: the run is offered again")
    }

    /// A run this worker finished is not offered again while the view lags behind the worker's
    /// own writes: not as pending (its version before the claim), nor as abandoned (running, with
    /// the claim's deletion seen before the run's). A later version (a retry) is offered.
    @Test mutating func aRunWeFinishedStaysOutUntilTheViewHasMovedPastOurClaim() throws {
        var (queue, view, runA) = try twoJobs()
        let pending = try #require(view.run(at: runA))
        // Our claim landed at a revision the view has not reached yet; the run has ended since.
        let token = revision + 10
        queue.finishedRun(runA, token: token, viewRevision: view.modRevision(ofRun: runA))
        var (jobs, _) = chosen(&queue, view, now: 10)
        #expect(jobs == ["b"], "still pending in the view")

        // The view reaches our claim's write: held by us, as we left it.
        var running = pending.record
        running.status = .running
        running.worker = me
        running.claimVersion = 1
        running.registration = view.registration(of: me)
        revision = token - 1
        deliver(.put(record(runA, try SchedulerJSON.encode(running), version: 1)), .runs, &view, &queue)
        (jobs, _) = chosen(&queue, view, now: 10)
        #expect(jobs == ["b"], "running, as we left it")
        // Our session ended and we are back (a new registration), the run's deletion not seen yet:
        // abandoned by the view's lights, but the claim at the token we finished is left out.
        deliver(.put(record(try layout.worker(me), try SchedulerJSON.encode(info))), .workers, &view, &queue)
        (jobs, _) = chosen(&queue, view, now: 10)
        #expect(jobs == ["b"], "running, abandoned, but finished by us at a revision the view has not passed")

        // Requeued for a retry (a later write): offered again.
        var retry = pending.record
        retry.attempt = 2
        deliver(.put(record(runA, try SchedulerJSON.encode(retry), version: 2)), .runs, &view, &queue)
        (jobs, _) = chosen(&queue, view, now: 10)
        #expect(jobs == ["a", "b"])

        // A view that has caught up already keeps nothing back.
        let runB = try layout.run("b", "r")
        queue.finishedRun(runB, token: try #require(view.modRevision(ofRun: runB)) - 1, viewRevision: view.modRevision(ofRun: runB))
        (jobs, _) = chosen(&queue, view, now: 10)
        #expect(jobs == ["a", "b"])
    }
}
