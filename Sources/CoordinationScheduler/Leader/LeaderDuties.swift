import Coordination
import CoreMetrics
import Foundation
import Logging

/// What the elected leader does, while it leads: turn due fire times of recurring jobs into runs
/// (exactly once: the job state's `lastMaterialized` moves forward in the same transaction that
/// creates the runs, as a compare-and-set on the job record's version), apply the misfire and overlap
/// policies, plan placement for the strategies that need a plan, record the runs of paused jobs
/// whose worker's session ended (``PausedRunAbandonment``), remove finished one-shot jobs
/// after their retention (``FinishedJobSweep``) and orphan incarnation keys (``IncarnationKeySweep``),
/// fence again jobs an earlier coord unfenced (``FenceRestoration``), and leave alone jobs whose
/// removal stopped halfway (``UnfinishedRemovals``).
///
/// Every write is a compare-and-set, so a deposed leader that has not noticed yet cannot undo or
/// repeat what the new one did.
struct LeaderDuties: Sendable {
    let store: any CoordinationStore
    let layout: SchedulerLayout
    let clock: WallClock
    let configuration: Worker.Configuration
    /// The worker's own watches, shared rather than opened a second time on the same handle.
    let feed: ViewFeed
    let logger: Logger
    /// Its worker's metrics (the skipped fire times); none when made on its own, as in tests.
    var metrics = SchedulerMetrics(worker: "", factory: NOOPMetricsHandler.instance)
    /// Jobs whose removal stopped halfway, left alone (``UnfinishedRemovals``).
    let removals = UnfinishedRemovals()

    enum Signal: Sendable {
        case view(SchedulerView.Folder, WatchEvent)
        case wake
    }

    var history: HistoryWriter { HistoryWriter(store: store, layout: layout) }

    func run() async throws {
        logger.info("leading")
        let signals = SignalQueue<Signal>()
        // When the feed's watches fail, the worker stops, and with it this.
        feed.attach { signals.push(.view($0, $1)) }
        defer { feed.detach() }
        var view = SchedulerView(layout: layout)
        var planner = PlacementState()
        // The version of the wide-bucket list our last write replaced (`.some(nil)`: created it).
        var wideListWrittenOver: Int64??
        var sweep =
            configuration.finishedJobRetention == nil && configuration.finishedJobLimit == nil
            ? nil
            : FinishedJobSweep(
                retention: configuration.finishedJobRetention, limit: configuration.finishedJobLimit, store: store, layout: layout,
                logger: logger)
        let upkeep = LeaderUpkeep(
            keySweep: IncarnationKeySweep(store: store, layout: layout, logger: logger),
            fenceRestoration: FenceRestoration(store: store, layout: layout, logger: logger))
        let abandonment = PausedRunAbandonment(store: store, layout: layout, clock: clock, logger: logger)
        // Abandoned runs whose claim still lived, at the version then seen (see ``PausedRunAbandonment``).
        var abandonmentRefused: [Key: Int64] = [:]
        var wallTimer = WakeTimer()
        var stabilityTimer: Task<Void, Never>?
        defer {
            wallTimer.cancel()
            stabilityTimer?.cancel()
            upkeep.cancel()
        }
        while let batch = await signals.next() {
            for signal in batch {
                switch signal {
                case .view(let folder, let event):
                    view.apply(event, to: folder)
                    // Whether a run is held follows its worker's membership: a refusal is worth trying again.
                    if folder == .workers { abandonmentRefused = [:] }
                case .wake: break
                }
            }
            guard view.hasSnapshot(of: .runs) && view.hasSnapshot(of: .jobs) && view.hasSnapshot(of: .workers)
            else { continue }
            removals.keepOnly(shownBy: view, layout: layout, now: clock.now())
            if planner.noteMembers(Set(view.placeableWorkers.keys)) {
                stabilityTimer?.cancel()
                let window = configuration.stabilisation
                stabilityTimer = Task {
                    try? await Task.sleep(for: window)
                    if !Task.isCancelled { signals.push(.wake) }
                }
            }
            await publishWideBuckets(view: view, writtenOver: &wideListWrittenOver)
            let stable = planner.isStable(window: configuration.stabilisation)
            var wake = await materialiseDueFireTimes(view: &view, planner: &planner, stable: stable)
            await finishBroadcasts(view: &view)
            await planPendingRuns(view: &view, planner: &planner, stable: stable)
            await abandonment.pass(view: view, refused: &abandonmentRefused)
            let now = clock.now()
            if let next = await sweep?.pass(view: view, now: now) { wake = min(wake ?? next, next) }
            // After every write of the pass: one refused by a removal under way notes its job just now.
            if let recheck = removals.nextRecheck { wake = min(wake ?? recheck, recheck) }
            // Occasional, on passes made anyway: a wake of their own would be the only one of an
            // idle leader's, for work that is rarely there. Not awaited: their reads, one after
            // another, would hold up this loop (``LeaderUpkeep``).
            upkeep.startIfDue(view: view, now: now)
            let clock = clock
            wallTimer.keep(for: wake, now: now) { wake in
                Task {
                    do {
                        try await clock.sleepUntil(wake)
                        signals.push(.wake)
                    } catch {}
                }
            }
        }
        await upkeep.stop()
        try Task.checkCancellation()
    }

    // MARK: Wide buckets

    /// Writes the buckets of wide jobs (``BucketShare``) when the stored list differs from the
    /// view's jobs, so that the workers a new wide job is for start watching its bucket. A
    /// compare-and-set on the version the view shows (or a create, ephemeral, when absent): a
    /// deposed leader's late write of an older list fails, or, landing first, is written over
    /// once its event arrives.
    /// - Parameter writtenOver: the version our last write replaced, so that a list is not written
    ///   again while its own event is on its way; cleared when the store refuses it.
    func publishWideBuckets(view: SchedulerView, writtenOver: inout Int64??) async {
        guard view.hasSnapshot(of: .wide) else { return }
        let wide = view.bucketsOfWideJobs
        guard view.storedWideBuckets != wide else {
            writtenOver = nil
            return
        }
        if let writtenOver, writtenOver == view.wideKeyVersion { return }
        do {
            let value = try SchedulerJSON.encode(wide)
            if let version = view.wideKeyVersion {
                _ = try await store.set(layout.wideBuckets, value: value, ifVersion: version)
            } else {
                _ = try await store.create(layout.wideBuckets, value: value, mode: .ephemeral)
            }
            writtenOver = .some(view.wideKeyVersion)
            logger.debug("wide buckets listed", metadata: ["buckets": "\(wide.joined(separator: " "))"])
        } catch let error as CoordinationError where [.versionConflict, .nodeExists, .noNode].contains(error.code) {
            // Someone wrote or removed it meanwhile: its event brings the view up to date.
            writtenOver = nil
        } catch {
            writtenOver = nil
            logger.warning("cannot list the wide buckets", metadata: ["error": "\(error)"])
        }
    }

    // MARK: Fire times

    /// Materialises every recurring job's due fire times; returns the earliest next fire time.
    func materialiseDueFireTimes(view: inout SchedulerView, planner: inout PlacementState, stable: Bool) async -> Date? {
        let now = clock.now()
        let workers = view.placeableWorkers
        let recurring = view.jobsNeedingTheLeader().recurring
        guard !recurring.isEmpty else { return nil }
        var wake: Date?
        // Every worker's load, counted once the first planned fire time is due, and kept up to
        // date with the runs placed here.
        var load: [String: Int]?
        for id in recurring {
            guard let spec = view.specs[id], let (seen, version) = view.state(of: id), !seen.paused,
                !removals.contains(job: id, state: seen, layout: layout)
            else { continue }
            // A resume (and a submission from a clock ahead) is settled on this clock as soon as
            // this leader sees it: with the fire time it lets through, or alone when none is due.
            let state = seen.settlingResume(now: now).settlingSubmission(now: now, schedule: spec.schedule)
            let from = state.fireTimesDue(after: spec.schedule)
            let (due, total) = spec.schedule.fireTimes(after: from, upTo: now, anchor: state.submittedAt, limit: 1)
            if let next = spec.schedule.nextFireTime(after: max(from, now), anchor: state.submittedAt) {
                wake = min(wake ?? next, next)
            }
            guard let latest = due.last else {
                if state != seen { await settleResume(spec: spec, seen: seen, settled: state, version: version) }
                continue
            }
            let active = view.runs(ofJob: id)
            if spec.placement.isPlanned && load == nil {
                load = Self.load(running: view.runningByWorker, pending: view.jobsNeedingTheLeader().planned.flatMap { view.runs(ofJob: $0) })
            }
            do {
                let placed = try await materialise(
                    spec: spec, state: state, seen: seen, version: version, latest: latest, total: total, now: now, active: active,
                    seenRuns: view.runNames(ofJob: id), workers: workers, stable: stable, load: load ?? [:], planner: &planner)
                for worker in placed { load?[worker, default: 0] += 1 }
            } catch let error as CoordinationError where [.versionConflict, .nodeExists, .noNode].contains(error.code) {
                if await removals.note(error, job: id, state: seen, store: store, layout: layout, now: clock.now()) {
                    logger.info("job left alone: its removal is unfinished (coord job rm finishes it)", metadata: ["job": "\(id)"])
                    continue
                }
                // Our view is behind (the state moved on, the runs exist, or a run it shows has
                // ended): the watch catches us up.
                logger.debug("materialisation superseded", metadata: ["job": "\(id)", "reason": "\(error.message)"])
            } catch {
                logger.warning("materialisation failed", metadata: ["job": "\(id)", "error": "\(error)"])
            }
        }
        return wake
    }

    /// A time in a history message: ISO 8601 in UTC, as coord shows every time (not `Date`'s
    /// own `2026-12-03 09:15:34 +0000`).
    static func text(_ date: Date) -> String { date.formatted(Date.ISO8601FormatStyle()) }

    /// Writes a settled resume (``JobState/settlingResume(now:)``) or submission
    /// (``JobState/settlingSubmission(now:schedule:)``) when no fire time is due yet, so that the
    /// time it settled at is kept. A compare-and-set: a view behind tries again later.
    func settleResume(spec: JobSpec, seen: JobState, settled: JobState, version: Int64) async {
        do {
            try await requireUnchanged(spec: spec, state: seen, version: version)
            let fence = try IncarnationFence(job: spec.id, state: seen, layout: layout)
            _ = try await store.transaction(
                fence.checks + [.set(try layout.job(spec.id), value: try JobRecord(spec: spec, state: settled).encoded(), ifVersion: version)])
        } catch let error as CoordinationError where [.versionConflict, .noNode].contains(error.code) {
            if await removals.note(error, job: spec.id, state: seen, store: store, layout: layout, now: clock.now()) { return }
            logger.debug("resume settled by a newer state", metadata: ["job": "\(spec.id)", "reason": "\(error.message)"])
        } catch {
            logger.warning("cannot settle a resume", metadata: ["job": "\(spec.id)", "error": "\(error)"])
        }
    }

    /// Returns the workers the new runs were assigned to.
    /// - Parameters:
    ///   - state: the state to move on from: the view's, or that with its resume settled.
    ///   - seen: the state the view shows, when `state` is not it: the store must still hold it.
    ///   - load: every worker's load (``load(running:pending:)``), for planned placement.
    ///   - seenRuns: the names of the job's runs the view holds (those that do not decode too);
    ///     `nil` for those of `active`.
    @discardableResult
    func materialise(
        spec: JobSpec, state: JobState, seen: JobState? = nil, version: Int64, latest: Date, total: Int, now: Date, active: [ViewRun],
        seenRuns: Set<String>? = nil, workers: [String: WorkerInfo], stable: Bool, load: [String: Int] = [:],
        planner: inout PlacementState
    ) async throws -> [String] {
        try await requireUnchanged(spec: spec, state: seen ?? state, version: version)
        // The store must still hold this incarnation of the job when the writes below land:
        // `requireUnchanged` read it, but one removed and added again since is at the same version.
        let fence = try IncarnationFence(job: spec.id, state: seen ?? state, layout: layout)
        let late = now.timeIntervalSince(latest) > configuration.misfireThreshold.seconds
        var fire: Date? = late && spec.misfire == .skip ? nil : latest
        var entries: [HistoryEntry] = []
        let missed = fire == nil ? total : total - 1
        if missed > 0 {
            entries.append(
                HistoryEntry(
                    job: spec.id, scheduledAt: latest, finishedAt: now, outcome: .skipped,
                    message: "\(missed) fire time(s) up to \(Self.text(latest)) missed (misfire policy \(spec.misfire == .skip ? "skip" : "fire-once-now"))"))
        }
        // A run the view shows as active, checked to exist still: a view behind the end of the
        // last of them would otherwise skip a fire time for a run that is no more. (One check is
        // enough: when it has ended, the view is behind and the leader looks again.)
        var stillActive: [Coordination.Operation] = []
        if fire != nil && (spec.overlap == .replace || (spec.overlap == .skip && active.isEmpty)) {
            try await requireNoUnseenRuns(of: spec.id, seen: seenRuns ?? Set(active.map(\.key.name)))
        }
        if let scheduled = fire, !active.isEmpty {
            switch spec.overlap {
            case .skip:
                stillActive = [.check(active[0].key, version: nil)]
                entries.append(
                    HistoryEntry(
                        job: spec.id, scheduledAt: scheduled, finishedAt: now, outcome: .skipped,
                        message: "a previous run is still active (overlap policy skip)"))
                fire = nil
            case .replace:
                // Only while the state is as we saw it: a view behind our own last write would
                // otherwise replay that fire time and cancel the run it has just created.
                let canceller = RunCanceller(store: store, layout: layout, now: clock.now)
                let unchanged = fence.checks + [.check(try layout.job(spec.id), version: version)]
                for run in active {
                    try await canceller.cancel(
                        job: spec.id, run: run.record.run, reason: "replaced by the fire time \(Self.text(scheduled))", provided: unchanged)
                }
            case .queue:
                break
            }
        }
        var newState = state
        newState.lastMaterialized = latest
        // Replaced too: the runs still to be created of a broadcast cut short (its writer stopped
        // between chunks), which were created after the new fire time's, and ran before them.
        if fire != nil && spec.overlap == .replace { newState.unfinishedBroadcasts = [] }
        var runs: [RunRecord] = []
        let eligible = workers.filter { $0.value.canRun(spec) }
        if let scheduled = fire {
            let incarnation = state.incarnation
            runs = RunPlan.runs(of: spec, scheduledAt: scheduled, notBefore: scheduled, broadcastTo: Array(eligible.keys)) {
                RunID.scheduled(at: scheduled, item: $0, incarnation: incarnation, worker: $1)
            }
            // A broadcast runs on the workers able to run it at its fire time: with none, the fire
            // time is over without a run, which the history says (it said nothing, and a job that
            // never ran could not be told from one whose leader never woke).
            if spec.placement == .broadcast && runs.isEmpty {
                entries.append(
                    HistoryEntry(
                        job: spec.id, scheduledAt: scheduled, finishedAt: now, outcome: .skipped,
                        message: "no live worker able to run it (handler '\(spec.handler)' and the job's labels): a "
                            + "broadcast runs on the workers able to run it at its fire time"))
            }
            if let unfinished = RunPlan.unfinished(
                runs, run: RunID.scheduled(at: scheduled, item: 0, incarnation: incarnation), scheduledAt: scheduled,
                firstChunk: RunPlan.firstChunk(of: state))
            {
                newState.unfinishedBroadcasts.append(unfinished)
            }
            if spec.placement.isPlanned && spec.placement != .broadcast {
                if PlacementPlanner.usesBalancedItems(spec.placement) && spec.shards > 1 {
                    let balanced = balancedItems(spec: spec, current: state.itemAssignment, eligible: eligible)
                    // While membership is settling, only unassigned items are placed; moves wait.
                    newState.itemAssignment = stable ? balanced : balanced.merging(state.itemAssignment) { _, kept in kept }
                }
                // The whole cluster's load, not this job's runs alone (every worker looked idle),
                // with each run placed here counted before the next is.
                var load = load
                for index in runs.indices {
                    let choice = planner.choose(
                        spec: spec, item: runs[index].item, eligible: eligible, load: Self.candidates(eligible, load: load),
                        sticky: newState.itemAssignment[runs[index].item])
                    runs[index].assignee = choice
                    if let choice { load[choice, default: 0] += 1 }
                }
            }
        }
        let jobKey = try layout.job(spec.id)
        let jobValue = try JobRecord(spec: spec, state: newState).encoded()
        // Sharded jobs have at most ``JobSpec/maxShards`` items (one more when unfenced), so
        // their fire time fits one transaction with the state. A broadcast to more workers than
        // that creates the rest right after, in chunks that move the state on (or the next
        // leader does, should we stop first).
        let creates = try RunPlan.createOperations(Array(runs.prefix(RunPlan.firstChunk(of: state))), layout: layout)
        try await history.transact(job: spec.id, entries: entries) {
            fence.checks + [.set(jobKey, value: jobValue, ifVersion: version)] + stillActive + creates
        }
        if missed > 0 { metrics.skippedByMisfire.increment(by: missed) }
        if fire == nil && !stillActive.isEmpty { metrics.skippedByOverlap.increment() }
        if runs.count > RunPlan.firstChunk(of: state) {
            try await RunPlan.continueBroadcasts(
                of: spec.id, incarnation: state.incarnation, workers: Array(eligible.keys), in: store, layout: layout)
        }
        logger.debug(
            "materialised", metadata: ["job": "\(spec.id)", "fireTime": "\(latest)", "runs": "\(runs.count)", "missed": "\(missed)"])
        return runs.compactMap(\.assignee)
    }

    /// Creates the other runs of broadcasts whose writer (a leader, `coord job trigger`, a
    /// submission) stopped before it had created them all.
    func finishBroadcasts(view: inout SchedulerView) async {
        for id in view.jobsNeedingTheLeader().planned {
            guard let spec = view.specs[id], spec.placement == .broadcast, let (state, _) = view.state(of: id),
                !state.unfinishedBroadcasts.isEmpty, !removals.contains(job: id, state: state, layout: layout)
            else { continue }
            let workers = view.placeableWorkers.filter { $0.value.canRun(spec) }.map(\.key)
            do {
                let outcome = try await RunPlan.continueBroadcasts(
                    of: id, incarnation: state.incarnation, workers: workers, in: store, layout: layout)
                if case .jobRemoved(let fence?) = outcome { removals.note(job: id, fence, now: clock.now()) }
            } catch {
                logger.warning("cannot finish a broadcast", metadata: ["job": "\(id)", "error": "\(error)"])
            }
        }
    }

    // MARK: Placement

    /// Assigns pending runs of planned strategies that have no live assignee, rebalances sharded
    /// items once membership is stable, and retires broadcast runs whose worker left.
    func planPendingRuns(view: inout SchedulerView, planner: inout PlacementState, stable: Bool) async {
        let planned = view.jobsNeedingTheLeader().planned.filter { id in
            view.state(of: id).map { !removals.contains(job: id, state: $0.state, layout: layout) } ?? true
        }
        guard !planned.isEmpty else { return }
        let specs = view.specs.filter { planned.contains($0.key) }
        let workers = view.placeableWorkers
        // Only planned jobs' runs are the leader's to place; the rest count by their run records.
        // Most urgent first: placed in id order, a low priority took the free slot of the round
        // and a higher one queued behind a busy worker.
        let runs = SchedulerView.urgentFirst(planned, specs: specs).flatMap { view.runs(ofJob: $0) }
        // Counted from the view once, then kept up to date with each run placed below: counted
        // once only, every run of a round went to the worker least loaded before the round.
        var load = Self.load(running: view.runningByWorker, pending: runs)
        // Sticky item assignments, rebalanced with the fewest moves once membership settled.
        var assignments: [String: [Int: String]] = [:]
        for (id, spec) in specs where PlacementPlanner.usesBalancedItems(spec.placement) && spec.shards > 1 {
            guard let (state, version) = view.state(of: id) else { continue }
            var plan = state.itemAssignment
            if stable {
                let eligible = workers.filter { $0.value.canRun(spec) }
                let balanced = balancedItems(spec: spec, current: plan, eligible: eligible)
                if balanced != plan {
                    var newState = state
                    newState.itemAssignment = balanced
                    do {
                        try await requireUnchanged(spec: spec, state: state, version: version)
                        let fence = try IncarnationFence(job: id, state: state, layout: layout)
                        _ = try await store.transaction(
                            fence.checks
                                + [.set(try layout.job(id), value: try JobRecord(spec: spec, state: newState).encoded(), ifVersion: version)])
                        logger.info(
                            "rebalanced items",
                            metadata: ["job": "\(id)", "moves": "\(BalancedAssignment.moves(from: plan, to: balanced))"])
                        plan = balanced
                    } catch {
                        // The state moved on (the watch brings it), or the job is being removed.
                        await removals.note(error, job: id, state: state, store: store, layout: layout, now: clock.now())
                        continue
                    }
                }
            }
            assignments[id] = plan
        }
        for run in runs {
            guard let spec = specs[run.record.job], spec.placement.isPlanned else { continue }
            let record = run.record
            let eligible = workers.filter { $0.value.canRun(spec) }
            if spec.placement == .broadcast {
                let abandoned = !view.isHeld(record)
                if stable, abandoned, let assignee = record.assignee {
                    let member = view.workers[assignee]
                    if !(member?.canRun(spec) ?? false) {
                        await retireBroadcastRun(run, reason: "worker \(assignee) left")
                    } else if member?.draining == true && record.status == .pending {
                        // It will never claim it; left pending, the run would hold back the
                        // job's later fire times (overlap `queue`) until it has left.
                        await retireBroadcastRun(run, reason: "worker \(assignee) is shutting down")
                    }
                }
                continue
            }
            guard record.status == .pending else { continue }
            let sticky = assignments[record.job]?[record.item]
            let assigneeLive = record.assignee.map { eligible[$0] != nil } ?? false
            // Keep a live assignee unless a rebalance moved the item; replace a dead one only once stable.
            if assigneeLive && (sticky == nil || sticky == record.assignee) { continue }
            if record.assignee != nil && !assigneeLive && !stable { continue }
            guard
                let choice = planner.choose(
                    spec: spec, item: record.item, eligible: eligible, load: Self.candidates(eligible, load: load),
                    sticky: sticky),
                choice != record.assignee
            else { continue }
            var updated = record
            updated.assignee = choice
            // At the view's version. A view behind a removal and a re-adding of the job holds the
            // removed job's run, whose id no new run shares (the incarnation tag differs, see
            // ``RunID``): the write finds no run, rather than landing on the new job's.
            do {
                _ = try await store.set(run.key, value: try SchedulerJSON.encode(updated), ifVersion: run.version)
                load[choice, default: 0] += 1
                if let previous = record.assignee, let count = load[previous] { load[previous] = max(0, count - 1) }
            } catch {
                // Claimed or changed meanwhile: the claim is the source of truth.
            }
        }
    }

    /// Throws `versionConflict` unless the job's record is still at `version` with `spec` and
    /// `state`. The leader writes the whole record (definition and state) from its view, with a
    /// compare-and-set of the version; a job removed and submitted again under the same id starts
    /// at the same version, and the view's old record must not overwrite the new one: not its
    /// definition, nor its state (the same definition submitted again has a later submission
    /// time, a fixed rate's anchor, and no fire time yet).
    /// Throws `versionConflict` when the job has runs the view has not had yet. The view can hold
    /// the state a materialisation wrote without the runs it created in the same transaction (an
    /// event batch may end between the two): a `skip` job's fire time then queued behind a run it
    /// did not see, and a `replace` job's left it running. The runs' events are on their way, and
    /// the leader looks again when they arrive. One read, for those two policies only.
    func requireNoUnseenRuns(of job: String, seen: Set<String>) async throws {
        let folder = try layout.runs(of: job)
        let unseen = try await store.children(of: folder).filter { !seen.contains($0) }
        guard unseen.isEmpty else {
            throw CoordinationError(
                .versionConflict, "job \(job) has runs the leader's view has not had yet: \(unseen.joined(separator: ", "))", key: folder)
        }
    }

    func requireUnchanged(spec: JobSpec, state: JobState, version: Int64) async throws {
        let key = try layout.job(spec.id)
        guard let stored = try await store.get(key), stored.version == version,
            let record = try? stored.decoded(JobRecord.self), record.spec == spec, record.state == state
        else {
            throw CoordinationError(.versionConflict, "job \(spec.id) changed since the leader's view saw it", key: key)
        }
    }

    func balancedItems(spec: JobSpec, current: [Int: String], eligible: [String: WorkerInfo]) -> [Int: String] {
        let weights = eligible.mapValues { spec.placement == .weighted ? $0.weight : $0.capacity }
        return BalancedAssignment.plan(items: Array(0..<spec.shards), current: current, workers: weights)
    }

    /// Each worker's load: the runs it is running, and the pending runs among `pending` assigned to it.
    static func load(running: [String: Int], pending runs: [ViewRun]) -> [String: Int] {
        var load = running
        for run in runs where run.record.status == .pending {
            if let assignee = run.record.assignee { load[assignee, default: 0] += 1 }
        }
        return load
    }

    /// The workers as placement candidates, each with its load.
    static func candidates(_ workers: [String: WorkerInfo], load: [String: Int]) -> [PlacementPlanner.Candidate] {
        workers.map {
            PlacementPlanner.Candidate(id: $0.key, capacity: $0.value.capacity, weight: $0.value.weight, load: load[$0.key, default: 0])
        }
    }

    /// A broadcast run belongs to one worker; when that worker is gone for good, the run ends as `abandoned`.
    func retireBroadcastRun(_ run: ViewRun, reason: String) async {
        let record = run.record
        let entry = HistoryEntry(
            job: record.job, run: record.run, item: record.item, worker: record.assignee, attempt: record.attempt,
            scheduledAt: record.scheduledAt, startedAt: record.startedAt, finishedAt: clock.now(), outcome: .abandoned,
            message: reason)
        do {
            try await history.transact(job: record.job, entries: [entry]) {
                [.check(run.key, version: run.version), .delete(run.key, ifVersion: run.version)]
            }
        } catch {
            logger.debug("broadcast run not retired", metadata: ["run": "\(run.key)", "error": "\(error)"])
        }
    }
}
