import Coordination
import Foundation

/// The runs one worker may claim, kept in claim order and updated job by job as changes arrive.
///
/// Choosing used to scan (and hash) every active run after every burst of watch events: with a
/// backlog of thousands of pending runs that scan was most of a worker's CPU time and made
/// claiming quadratic in the backlog. Here a change re-evaluates only the runs of the job it
/// touched (one run for a one-shot job, at most ``JobSpec/maxShards`` for a sharded one), and
/// choosing walks the front of a sorted array.
struct ClaimQueue: Sendable {
    /// A run's place in the claim order: priority first, then fire time, then a per-worker spread
    /// (so that workers do not all race for the same run), then the key (to make the order total).
    struct Entry: Sendable, Hashable {
        let priority: Int
        let scheduledAt: Date
        let spread: UInt64
        let key: Key
        let version: Int64
        let modRevision: Int64
        let job: String
        /// For a retry: its back-off, which it never waits longer than (``choose(now:limit:workers:me:skipping:)``).
        var backoff: TimeInterval? = nil

        func precedes(_ other: Entry) -> Bool {
            if priority != other.priority { return priority > other.priority }
            if scheduledAt != other.scheduledAt { return scheduledAt < other.scheduledAt }
            if spread != other.spread { return spread < other.spread }
            return key < other.key
        }
    }

    /// Claimable now (apart from in-flight and lost-race runs), best first.
    private var ready: [Entry] = []
    /// Claimable once their back-off or start time passes, soonest first.
    private var waiting: [(notBefore: Date, entry: Entry)] = []
    /// Every queued run's entry and, when it waits, until when.
    private var queued: [Key: (entry: Entry, notBefore: Date?)] = [:]
    /// The queued runs of each job, so that a job's change re-evaluates only its runs.
    private var queuedByJob: [String: Set<Key>] = [:]
    /// Runs whose claim this worker lost at a version: out of the ready order (a worker whose view
    /// lags would otherwise walk past every run the others took on each choice) until the run
    /// changes, or the membership of the worker running it does.
    private var lostAt: [Key: Int64] = [:]
    /// Runs this worker claimed and finished, with that attempt's claim token. A view that lags
    /// behind the worker's own writes still shows such a run pending (on ZooKeeper, where each
    /// change is re-read before it is reported, often for longer than a short run lasts), and
    /// claiming it again costs a transaction that cannot succeed: measured on the claims bench,
    /// nearly one per job. Left out while the view shows a version no later than the attempt's
    /// claim (modRevision ≤ token); forgotten once the view has caught up.
    private var finishedUpTo: [Key: Int64] = [:]
    /// The incarnations (by job) whose key a claim found gone: their removal is under way or
    /// stopped halfway, and none of their runs can be claimed
    /// (``RunExecution/ClaimResult/jobBeingRemoved``). Left out while the view shows that
    /// incarnation of the job, for ``removalRecheckDelay`` at a time.
    private var removalsUnderWay: [String: RemovalUnderWay] = [:]
    /// An incarnation whose key a claim found gone, and when to try one of its runs again.
    struct RemovalUnderWay: Sendable {
        let tag: String
        var recheckAt: Date
    }

    /// How long an incarnation whose key a claim found gone is left alone before one claim
    /// checks again. A scheduler never makes a key again once deleted, but `coord migrate
    /// --follow` may copy a job's record before its key (a ZooKeeper source reports changes
    /// folder by folder): without a recheck, a worker that claimed in between left the job's
    /// runs until it restarted. One refused claim per incarnation in this time costs nothing.
    static let removalRecheckDelay: TimeInterval = 300

    /// Jobs to re-evaluate before the next choice; `everything` after a snapshot.
    private var dirtyJobs: Set<String> = []
    private var everything = true
    /// The wall-clock time of the last choice: a later one at an earlier time saw the clock step back.
    private var lastChoice: Date?

    /// Marks what a watch event, already applied to `view`, may have changed.
    mutating func note(_ event: WatchEvent, folder: SchedulerView.Folder, layout: SchedulerLayout, view: SchedulerView) {
        switch folder {
        case .workers:
            // Whether a running run is held follows its worker's membership: that worker's runs
            // are re-evaluated, and lost races on them tried again. (Eligibility is checked when
            // choosing; our own info never comes from the view.)
            switch event {
            case .snapshot:
                forgetLostRaces()
                dirtyJobs = []
            case .put(let record): membershipChanged(affecting: view.jobs(runningOn: record.key.name))
            case .delete(let key): membershipChanged(affecting: view.jobs(runningOn: key.name))
            }
            return
        case .wide:
            return
        case .bucket:
            // A bucket's jobs and runs were replaced or dropped: re-evaluate everything (rare:
            // when the share changes or a bucket's watch starts over).
            everything = true
            dirtyJobs = []
            return
        case .jobs, .runs:
            break
        }
        let key: Key
        switch event {
        case .snapshot:
            everything = true
            dirtyJobs = []
            return
        case .put(let record): key = record.key
        case .delete(let deleted): key = deleted
        }
        guard !everything, let job = Self.job(of: key, in: folder, layout: layout) else { return }
        dirtyJobs.insert(job)
    }

    private static func job(of key: Key, in folder: SchedulerView.Folder, layout: SchedulerLayout) -> String? {
        switch folder {
        case .jobs, .runs: layout.jobID(of: key, in: layout.jobs)
        case .workers, .wide, .bucket: nil
        }
    }

    /// Brings the queue up to date with `view` for every job marked since the last call.
    mutating func refresh(from view: SchedulerView, worker: String, info: WorkerInfo, now: Date) {
        recheckRemovals(dueBy: now)
        if everything {
            everything = false
            if !removalsUnderWay.isEmpty { removalsUnderWay = removalsUnderWay.filter { Self.shows(view, $0.key, $0.value.tag) } }
            dirtyJobs = []
            ready = []
            waiting = []
            queued = [:]
            queuedByJob = [:]
            var entries: [Entry] = []
            for job in view.jobsWithRuns {
                for (entry, notBefore) in evaluate(job: job, view: view, worker: worker, info: info, now: now) {
                    queued[entry.key] = (entry, notBefore)
                    queuedByJob[job, default: []].insert(entry.key)
                    if let notBefore {
                        waiting.append((notBefore, entry))
                    } else if !isHeldBack(entry) {
                        entries.append(entry)
                    }
                }
            }
            ready = entries.sorted { $0.precedes($1) }
            waiting.sort { Self.waitsLess($0, $1) }
            forgetFinishedRuns(caughtUpIn: view)
            return
        }
        forgetFinishedRuns(caughtUpIn: view)
        let jobs = dirtyJobs
        dirtyJobs = []
        for job in jobs {
            for key in queuedByJob.removeValue(forKey: job) ?? [] { remove(key) }
            if let removal = removalsUnderWay[job], !Self.shows(view, job, removal.tag) { removalsUnderWay[job] = nil }
            for (entry, notBefore) in evaluate(job: job, view: view, worker: worker, info: info, now: now) { insert(entry, notBefore: notBefore) }
        }
    }

    /// How far past the head of the order a worker looks, per worker and free slot. With 1 (a
    /// window of `limit × workers`), a worker with one free slot found a run it is preferred for
    /// in a window of four only two times in three, and the claims bench (four workers) lost
    /// 7–10% of its claim transactions; with 4 it lost 40–60% fewer, and etcd's claims/s rose
    /// 3–16% in three pairs (ZooKeeper's within the noise). Runs further back in the window may
    /// start before ones at its head, by at most a few choices.
    static let windowPerWorkerAndSlot = 4

    /// The (at most `limit`) runs to try to claim now, and when to look again for runs that are
    /// not due yet.
    ///
    /// Every worker sees the same order, so taking the first `limit` would have all of them race
    /// for the same few runs: one wins, the others pay a failed transaction each, and a worker
    /// whose view lags (a slower watch) loses every race and sits idle. So each worker takes
    /// `limit` runs among the first `limit × workers × 4` (higher priorities still first): first
    /// those it is the preferred worker of (its spread for the run is the lowest of the live
    /// workers': rendezvous hashing, so workers with the same view seldom pick the same run),
    /// then by its own spread. With one worker it takes exactly the head of the order.
    ///
    /// - Parameters:
    ///   - workers: the ids of the live workers that take new runs (not draining), `me` among them.
    mutating func choose(
        now: Date, limit: Int, workers: [String], me: String, skipping inFlight: Set<Key>
    ) -> ([Entry], Date?) {
        if let lastChoice, now < lastChoice {
            shortenRetryWaits(now: now)
            shortenRemovalRechecks(now: now)
        }
        lastChoice = now
        // Runs whose time came move to the ready order.
        var due = 0
        while due < waiting.count && waiting[due].notBefore <= now { due += 1 }
        if due > 0 {
            let moving = waiting[..<due].map(\.entry)
            waiting.removeFirst(due)
            for entry in moving {
                queued[entry.key]?.notBefore = nil
                if !isHeldBack(entry) { ready.insert(entry, at: readyIndex(of: entry)) }
            }
        }
        let wake = [waiting.first?.notBefore, removalsUnderWay.values.lazy.map(\.recheckAt).min()].compactMap { $0 }.min()
        guard limit > 0 else { return ([], wake) }
        let window = workers.count > 1 ? limit * workers.count * Self.windowPerWorkerAndSlot : limit
        var front: [Entry] = []
        for entry in ready where !inFlight.contains(entry.key) {
            front.append(entry)
            if front.count == window { break }
        }
        if front.count > limit {
            let others = workers.filter { $0 != me }
            var ranked = front.map { entry in
                (entry, preferred: others.allSatisfy { HashRing.hash($0 + entry.key.path) > entry.spread })
            }
            ranked.sort { a, b in
                if a.0.priority != b.0.priority { return a.0.priority > b.0.priority }
                if a.preferred != b.preferred { return a.preferred }
                return a.0.spread != b.0.spread ? a.0.spread < b.0.spread : a.0.precedes(b.0)
            }
            front = ranked.prefix(limit).map(\.0)
        }
        return (front, wake)
    }

    /// The wall clock stepped back: a retry waits its back-off from now at the most, not until
    /// the wall clock reads its `notBefore` again (a step back of an hour made a 10 s back-off
    /// last an hour more). A one-shot job's time is a wall-clock time and stays.
    private mutating func shortenRetryWaits(now: Date) {
        var moved = false
        for index in waiting.indices {
            guard let backoff = waiting[index].entry.backoff else { continue }
            let latest = now.addingTimeInterval(backoff)
            guard waiting[index].notBefore > latest else { continue }
            waiting[index].notBefore = latest
            queued[waiting[index].entry.key]?.notBefore = latest
            moved = true
        }
        if moved { waiting.sort { Self.waitsLess($0, $1) } }
    }

    /// The wall clock stepped back: a recheck comes ``removalRecheckDelay`` from now at the latest.
    private mutating func shortenRemovalRechecks(now: Date) {
        let latest = now.addingTimeInterval(Self.removalRecheckDelay)
        for (job, removal) in removalsUnderWay where removal.recheckAt > latest { removalsUnderWay[job]?.recheckAt = latest }
    }

    /// The incarnations left alone for ``removalRecheckDelay`` are offered again: the next claim
    /// of one of their runs checks the key again.
    private mutating func recheckRemovals(dueBy now: Date) {
        for (job, removal) in removalsUnderWay where removal.recheckAt <= now {
            removalsUnderWay[job] = nil
            if !everything { dirtyJobs.insert(job) }
        }
    }

    /// This worker finished its attempt at the run at `key`, claimed with `token`: leave the run
    /// out while the view shows it as it was up to that claim. Not noted when the view (at
    /// `viewRevision`, the run's modRevision there, `nil` when gone) has caught up already, so
    /// that nothing is kept for a run the view will not mention again.
    mutating func finishedRun(_ key: Key, token: Int64, viewRevision: Int64?) {
        guard let viewRevision, viewRevision <= token else { return }
        finishedUpTo[key] = token
        guard let (entry, notBefore) = queued[key], notBefore == nil, isHeldBack(entry) else { return }
        let index = readyIndex(of: entry)
        if index < ready.count && ready[index].key == key { ready.remove(at: index) }
    }

    /// Runs the view now shows past our finished attempt (or no longer shows) need no holding back.
    private mutating func forgetFinishedRuns(caughtUpIn view: SchedulerView) {
        guard !finishedUpTo.isEmpty else { return }
        finishedUpTo = finishedUpTo.filter { key, token in view.modRevision(ofRun: key).map { $0 <= token } ?? false }
    }

    /// Left out of the ready order: a lost race at this version, or a run we finished that the
    /// view has not caught up with.
    private func isHeldBack(_ entry: Entry) -> Bool {
        lostAt[entry.key] == entry.version || finishedUpTo[entry.key].map { entry.modRevision <= $0 } == true
    }

    /// Another worker won the claim of the run at `key` at `version`: leave it out until the run
    /// changes (``forgetLostRace(_:)``) or its worker's membership does (``note(_:folder:layout:view:)``).
    mutating func lostRace(_ key: Key, version: Int64) {
        lostAt[key] = version
        guard let (entry, notBefore) = queued[key], notBefore == nil, entry.version == version else { return }
        let index = readyIndex(of: entry)
        if index < ready.count && ready[index].key == key { ready.remove(at: index) }
    }

    /// The run at `key` changed: a lost race is worth trying again. Its job is
    /// re-evaluated at the next refresh (``note(_:folder:layout:view:)`` marked it), which puts the run
    /// back in order if it is still claimable.
    mutating func forgetLostRace(_ key: Key) { lostAt[key] = nil }

    /// A claim of the run at `key` failed for want of a session, which is back: try it again,
    /// though nothing about the run may have changed.
    mutating func forgetLostRace(_ key: Key, job: String) {
        lostAt[key] = nil
        if !everything { dirtyJobs.insert(job) }
    }

    /// The job's state changed: its lost races are worth trying again (its runs, `R/jobs/<b>/<job>/…`,
    /// are re-evaluated at the next refresh, as ``note(_:folder:layout:view:)`` marked the job).
    mutating func forgetLostRaces(ofJob job: String) {
        lostAt = lostAt.filter { $0.key.parent?.name != job }
    }

    /// A member joined, left or came back; `jobs` are those with runs it is running (by the run
    /// records). Whether those runs are held changed with it, so they are re-evaluated, and a lost
    /// race of theirs (a takeover refused by a claim the view does not show, its member's key not
    /// seen yet) is worth trying again.
    private mutating func membershipChanged(affecting jobs: Set<String>) {
        guard !jobs.isEmpty else { return }
        if !lostAt.isEmpty { lostAt = lostAt.filter { entry in entry.key.parent.map { !jobs.contains($0.name) } ?? true } }
        if !everything { dirtyJobs.formUnion(jobs) }
    }

    /// A claim of a run of `job` at `now` found the key of its incarnation `tag` gone: leaves out
    /// every run of that incarnation for ``removalRecheckDelay``. Returns whether it was news: not
    /// noted already, and the view still shows that incarnation (else the job was re-evaluated
    /// with the one it shows).
    mutating func noteRemovalUnderWay(of job: String, incarnation tag: String, view: SchedulerView, now: Date) -> Bool {
        guard Self.shows(view, job, tag), removalsUnderWay[job]?.tag != tag else { return false }
        removalsUnderWay[job] = RemovalUnderWay(tag: tag, recheckAt: now.addingTimeInterval(Self.removalRecheckDelay))
        for key in queuedByJob.removeValue(forKey: job) ?? [] { remove(key) }
        return true
    }

    /// Whether `view` shows incarnation `tag` of `job`.
    private static func shows(_ view: SchedulerView, _ job: String, _ tag: String) -> Bool {
        view.state(of: job)?.state.incarnation == tag
    }

    /// After a snapshot of runs or members, every lost race is worth trying again.
    mutating func forgetLostRaces() {
        lostAt = [:]
        everything = true
    }

    var hasLostRaces: Bool { !lostAt.isEmpty }

    /// How many runs are claimable now, before in-flight runs are left out.
    var readyCount: Int { ready.count }

    // MARK: Eligibility

    /// The job's runs this worker may claim, with their start time when not due yet.
    ///
    /// Eligible: the job is known, not paused, not being removed (``noteRemovalUnderWay(of:incarnation:view:now:)``),
    /// has our handler and its labels match; the run is
    /// of the job's current fire time (``currentFire(of:)``: runs of different fire times run one
    /// after another); and either pending (and assigned to us when the placement is planned), or
    /// running and not held (abandoned: its worker's session ended, ``SchedulerView/isHeld(_:)``).
    private func evaluate(job: String, view: SchedulerView, worker: String, info: WorkerInfo, now: Date) -> [(Entry, Date?)] {
        // Runs all held by live claims are spoken for.
        guard !view.allRunsHeld(ofJob: job) else { return [] }
        if let removal = removalsUnderWay[job], Self.shows(view, job, removal.tag) { return [] }
        let runs = view.runs(ofJob: job)
        guard !runs.isEmpty, let spec = view.specs[job], info.canRun(spec),
            view.state(of: job)?.state.paused == false
        else { return [] }
        let current = Self.currentFire(of: runs)
        // Whether a running run is held is known from the runs and the members together.
        let holdersKnown = view.hasSnapshot(of: .runs) && view.hasSnapshot(of: .workers)
        var result: [(Entry, Date?)] = []
        for run in runs {
            let record = run.record
            guard Fire(record) == current else { continue }
            var notBefore: Date?
            // A retry's `notBefore` is its writer's time plus the back-off: on a clock behind
            // that writer's, or stepped back since, it is further away than the back-off.
            let backoff = record.attempt > 1 ? spec.retry.backoff(beforeAttempt: record.attempt).seconds : nil
            // A first attempt meant for now (a trigger's, a one-shot job's without a time) waits
            // for nothing: its `notBefore` is its submitter's clock, and a worker behind that
            // clock waited the difference (an hour for a client an hour ahead).
            let forNow = record.attempt == 1 && (RunID.isTriggered(record.run) || spec.schedule == .once(at: nil))
            switch record.status {
            case .pending:
                if spec.placement.isPlanned && record.assignee != worker { continue }
                if record.notBefore > now && !forNow {
                    notBefore = backoff.map { min(record.notBefore, now.addingTimeInterval($0)) } ?? record.notBefore
                }
            case .running:
                guard holdersKnown, !view.isHeld(record) else { continue }
                if spec.placement == .broadcast && record.assignee != worker { continue }
            }
            let entry = Entry(
                priority: spec.priority, scheduledAt: record.scheduledAt, spread: HashRing.hash(worker + run.key.path),
                key: run.key, version: run.version, modRevision: run.modRevision, job: job, backoff: backoff)
            result.append((entry, notBefore))
        }
        return result
    }

    /// One fire time (or one trigger) of a job: the runs of its items, or of its workers.
    struct Fire: Hashable, Comparable {
        let scheduledAt: Date
        /// The run id without its item, incarnation and worker (`r-<ms>`, `t-<n>`): two triggers
        /// (or a trigger and a fire time) may have the same time.
        let id: Substring

        init(_ run: RunRecord) {
            scheduledAt = run.scheduledAt
            let parts = run.run.split(separator: "-", maxSplits: 2, omittingEmptySubsequences: false)
            id = parts.count == 3 ? run.run[parts[0].startIndex..<parts[1].endIndex] : run.run[...]
        }

        static func < (a: Fire, b: Fire) -> Bool { a.scheduledAt != b.scheduledAt ? a.scheduledAt < b.scheduledAt : a.id < b.id }
    }

    /// The fire time whose runs may be claimed: the one running (taken over when abandoned), else
    /// the earliest. Runs of different fire times run one after another, never side by side: not
    /// even when a fire time materialised late (its leader was away) sorts before a trigger that
    /// is already running, nor when a trigger has the same time as a fire time.
    static func currentFire(of runs: [ViewRun]) -> Fire {
        let running = runs.lazy.filter { $0.record.status == .running }.map { Fire($0.record) }.min()
        return running ?? runs.lazy.map { Fire($0.record) }.min()!
    }

    // MARK: Sorted storage

    private mutating func insert(_ entry: Entry, notBefore: Date?) {
        queued[entry.key] = (entry, notBefore)
        queuedByJob[entry.job, default: []].insert(entry.key)
        if let notBefore {
            waiting.insert((notBefore, entry), at: waitingIndex(notBefore, entry))
        } else if !isHeldBack(entry) {
            ready.insert(entry, at: readyIndex(of: entry))
        }
    }

    private mutating func remove(_ key: Key) {
        guard let (entry, notBefore) = queued.removeValue(forKey: key) else { return }
        if let notBefore {
            let index = waitingIndex(notBefore, entry)
            if index < waiting.count && waiting[index].entry.key == key { waiting.remove(at: index) }
        } else {
            let index = readyIndex(of: entry)
            if index < ready.count && ready[index].key == key { ready.remove(at: index) }
        }
    }

    /// The first position in `ready` whose entry does not precede `entry`.
    private func readyIndex(of entry: Entry) -> Int {
        var low = 0
        var high = ready.count
        while low < high {
            let middle = (low + high) / 2
            if ready[middle].precedes(entry) { low = middle + 1 } else { high = middle }
        }
        return low
    }

    private static func waitsLess(_ a: (notBefore: Date, entry: Entry), _ b: (notBefore: Date, entry: Entry)) -> Bool {
        a.notBefore != b.notBefore ? a.notBefore < b.notBefore : a.entry.precedes(b.entry)
    }

    private func waitingIndex(_ notBefore: Date, _ entry: Entry) -> Int {
        var low = 0
        var high = waiting.count
        while low < high {
            let middle = (low + high) / 2
            if Self.waitsLess(waiting[middle], (notBefore, entry)) { low = middle + 1 } else { high = middle }
        }
        return low
    }
}
