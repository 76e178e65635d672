public import Coordination
import CoordinationRecipes
public import CoreMetrics
import Foundation
public import Logging
public import ServiceLifecycle
import Synchronization

/// A scheduler worker: a swift-service-lifecycle `Service` that joins the worker group, takes
/// part in the leader election (the leader materialises fire times and plans placement), and
/// claims and runs the runs it is eligible for, up to its capacity.
///
/// On graceful shutdown it stops claiming and says so in its membership value
/// (``WorkerInfo/draining``: the others take its share of the buckets, and no new run is placed
/// on it), lets its runs finish for ``Configuration/gracePeriod``,
/// then hands back what is left (each run set back to pending in a fenced transaction that also
/// deletes its claim). When cancelled outright it claims nothing more and cancels its handlers
/// at once. Either way a run is handed back (or its end recorded) only once its handler has
/// returned: one that ignores cancellation keeps its run, its slot and ``run()`` until it does
/// (see ``JobHandler``).
public final class Worker: Service {
    /// How a worker takes part: its capacity, weight and labels, its graceful shutdown, and the
    /// leader's settings it uses while it leads. ``init(config:)`` reads them from a
    /// swift-configuration reader.
    public struct Configuration: Sendable {
        /// How many handlers run at once. A run whose handler has returned gives up its slot while
        /// its end is being recorded: the next claim then rides in the same store transaction as
        /// that end instead of waiting for it. So a worker may hold up to twice its capacity in
        /// claims for that moment, never more handlers than its capacity.
        public var capacity: Int
        /// This worker's share of the work the `weighted` strategy places, relative to the other
        /// workers' weights; at least 1.
        public var weight: Int

        /// The capacities a worker may have: far more handlers at once than a machine runs
        /// usefully, short of what breaks. The leader sums the workers' capacities and weights and
        /// multiplies them (by a job's shards), and one near 2^63 overflowed there.
        public static let capacities = 1...1024
        /// The weights a worker may have (see ``capacities``).
        public static let weights = 1...1000
        /// What the worker offers; a job runs only on workers having all its
        /// ``JobSpec/requiredLabels`` with the same values.
        public var labels: [String: String]
        /// How long a graceful shutdown waits for running runs before cancelling them; each is
        /// handed back once its handler has returned.
        public var gracePeriod: Duration
        /// For the load-aware `compete` strategy: a fully busy worker waits this long before
        /// claiming, an idle one not at all, so idle workers tend to win.
        public var loadDelay: Duration
        /// Leader: a fire time found later than this after it passed is a misfire.
        public var misfireThreshold: Duration
        /// Leader: how long membership must stay unchanged before placement plans are rebalanced
        /// (and runs of a worker that left are moved or retired); a new leader waits it out too.
        public var stabilisation: Duration
        /// Leader: how long a finished one-shot job (no active run left) is kept, with its state and
        /// history, after its last run finished; then it is removed, as `coord job rm` would.
        /// `nil` keeps finished jobs until removed by hand.
        public var finishedJobRetention: Duration?
        /// Leader: the most finished one-shot jobs kept; beyond it, the ones that finished first
        /// are removed before their retention. `nil` sets no such bound.
        ///
        /// Every job kept is in each worker's view. Its keys are split over 64 buckets, so on
        /// ZooKeeper (one-shot watches) a new or removed job makes every worker re-list one bucket
        /// rather than every job: with 10,000 finished jobs kept a new job cost about what it cost
        /// with none (`benchmarks/finished-jobs`), but a bucket's listing still grows with the count.
        public var finishedJobLimit: Int?
        /// How long a worker with a free slot and nothing to claim waits before it watches every
        /// bucket, to help with work queued in the other workers' shares; `nil` never helps: it
        /// then claims only in its own share, the wide jobs' buckets and, while it leads,
        /// everywhere.
        public var helpAfterIdle: Duration?
        public static let defaultHelpAfterIdle = Duration.seconds(2)

        public init(
            capacity: Int = 4, weight: Int = 1, labels: [String: String] = [:], gracePeriod: Duration = .seconds(10),
            loadDelay: Duration = .milliseconds(20), misfireThreshold: Duration = .milliseconds(500),
            stabilisation: Duration = .milliseconds(500), finishedJobRetention: Duration? = .seconds(86_400),
            finishedJobLimit: Int? = 10_000, helpAfterIdle: Duration? = Self.defaultHelpAfterIdle
        ) {
            self.capacity = capacity
            self.weight = weight
            self.labels = labels
            self.gracePeriod = gracePeriod
            self.loadDelay = loadDelay
            self.misfireThreshold = misfireThreshold
            self.stabilisation = stabilisation
            self.finishedJobRetention = finishedJobRetention
            self.finishedJobLimit = finishedJobLimit.map { max(0, $0) }
            self.helpAfterIdle = helpAfterIdle
        }

        /// A finished-job retention as people write it: a duration (`7d`, `12h`, `0s` removes
        /// jobs as soon as they finish) or `forever` (`.some(nil)`); `nil` when it is neither.
        public static func retention(_ text: String) -> Duration?? {
            if text == "forever" { return .some(nil) }
            return DurationText.parse(text).map { .some($0) }
        }
    }

    public let id: String
    public let store: any CoordinationStore
    public let layout: SchedulerLayout
    public let configuration: Configuration
    let handlers: [String: JobHandler]
    let clock: WallClock
    let logger: Logger
    /// What the worker counts and times, made once (``init(store:layout:id:configuration:handlers:clock:logger:metricsFactory:)``).
    let metrics: SchedulerMetrics

    enum Signal: Sendable {
        case view(SchedulerView.Folder, WatchEvent)
        /// The view's watches start over, following every job or buckets (``ViewFeed``).
        case viewRound(followsAllJobs: Bool)
        /// The attempt at the run at this key ended; `token` is its claim's, when it claimed.
        case finished(Key, token: Int64?)
        /// The handler of the run at this key returned: its slot is free while its end is recorded.
        case performed(Key)
        /// Our claim of the run at this version (judged by its job's state at `stateVersion`)
        /// failed: someone else was faster, or the run or the state changed.
        case lost(Key, version: Int64, stateVersion: Int64?)
        /// Our claim of a run of `job` was refused by the key of its incarnation `tag`, which is
        /// gone (``RunExecution/ClaimResult/jobBeingRemoved``).
        case removalUnderWay(job: String, incarnation: String)
        /// A lost claim may be tried again, though nothing about the run may have changed: the
        /// session is back after a claim failed for want of it, or a refused takeover has waited
        /// ``takeoverRetryDelay``.
        case retry(Key, job: String)
        case wake
        /// A switch of ``ShareMode`` may be due: look again.
        case shareModeDue
        /// We joined the group in a session: claims may record that registration.
        case joined
        case drain
        case graceOver
        case failed(any Error)
    }
    private let signals = SignalQueue<Signal>()
    /// How long a takeover refused by a live claim waits before it is tried again. Claims are not
    /// watched, and a claim can outlive its member key (a worker that left the group while
    /// handing its runs back, its hand-back then lost with its session): nothing would bring the
    /// run back but this.
    static let takeoverRetryDelay = Duration.seconds(1)
    /// Cleared when draining starts, so that a claim about to be attempted is not.
    private let acceptingClaims = Atomic<Bool>(true)
    private let lostClaims = Atomic<Int>(0)
    /// Our member key's `createRevision` and the session it was created in: the registration a
    /// claim records (``RunRecord/registration``). From the join itself, not the view, which may
    /// still show the key of a session that has ended.
    private let membership = Mutex<(sessionID: String, member: Member)?>(nil)
    /// Set when draining starts: the membership value says so from then on (``WorkerInfo/draining``),
    /// joins after an expiry included.
    private let isDraining = Atomic<Bool>(false)

    /// How many claims this worker attempted and lost since it was made: another worker claimed
    /// the run first, or the run or its job's state changed before the claim landed. A few per
    /// hundred runs is ordinary contention among workers; many more means workers keep choosing
    /// runs that are already taken (the claims bench prints the sum over its workers).
    public var claimsLost: Int { lostClaims.load(ordering: .relaxed) }

    /// The longest worker id, in UTF-8 bytes: a broadcast job's run ids hold their worker's id,
    /// and a job's keys must fit the store's key limit (see ``JobSpec/maxIDBytes(in:broadcast:)``).
    public static let maxIDBytes = 128

    /// Why `id` cannot be a worker's id (not a valid key segment, or longer than ``maxIDBytes``);
    /// `nil` when it can. The CLI checks `--id` with it before opening the store.
    public static func idProblem(_ id: String) -> String? {
        if let problem = Key.segmentProblem(id) { return "worker id '\(id)' is not a valid key segment: \(problem)" }
        guard id.utf8.count > maxIDBytes else { return nil }
        return "worker id '\(id.prefix(32))…' is \(id.utf8.count) bytes long (UTF-8); the longest worker id is \(maxIDBytes) "
            + "bytes, since the ids of a broadcast job's runs hold it"
    }

    /// How long before a cut-off worker's session may end (the end of its safe window, the
    /// earliest instant another worker may take its runs over) its runs are stopped: a fifth of
    /// the session TTL. A handler must be done within this once cancelled, or it may still run
    /// beside the attempt that takes its run over (fencing tokens guard what checks them).
    /// On ZooKeeper, whose client notices lost contact only after two thirds of the TTL, runs
    /// stop about an eighth of the TTL after the loss is noticed.
    public static func selfFencingMargin(sessionTTL: Duration) -> Duration { sessionTTL / 5 }

    /// - Parameters:
    ///   - id: the worker's id, a valid key segment of at most ``maxIDBytes`` bytes, unique among
    ///     live workers (the CLI's `--id`).
    ///   - handlers: the code to run, by handler name.
    ///   - clock: the wall clock for fire times, back-offs and timestamps (injectable for tests).
    ///   - metricsFactory: where the worker's metrics go (README, "Metrics"): by default the
    ///     factory the application bootstrapped (`MetricsSystem.bootstrap`) before making the
    ///     worker, a no-op when it bootstrapped none. The metrics are made here, once.
    public init(
        store: any CoordinationStore, layout: SchedulerLayout = SchedulerLayout(), id: String,
        configuration: Configuration = Configuration(), handlers: [String: JobHandler],
        clock: WallClock = .system, logger: Logger = Logger(label: "coordination.worker"),
        metricsFactory: any MetricsFactory = MetricsSystem.factory
    ) throws(CoordinationError) {
        if let problem = Self.idProblem(id) { throw CoordinationError(.invalidConfiguration, problem) }
        for (name, value, range) in [
            ("capacity", configuration.capacity, Configuration.capacities), ("weight", configuration.weight, Configuration.weights),
        ] where !range.contains(value) {
            throw CoordinationError(
                .invalidConfiguration, "worker \(name) must be between \(range.lowerBound) and \(range.upperBound), got \(value)")
        }
        if let problem = LabelPairs.spacedLabel(in: configuration.labels) {
            throw CoordinationError(.invalidConfiguration, "worker \(problem)")
        }
        if let help = configuration.helpAfterIdle, help < .zero {
            throw CoordinationError(
                .invalidConfiguration, "worker helpAfterIdle must not be negative, got \(help) (nil never helps)")
        }
        self.store = store
        self.layout = layout
        self.id = id
        self.configuration = configuration
        self.handlers = handlers
        self.clock = clock
        var logger = logger
        logger[metadataKey: "worker"] = "\(id)"
        self.logger = logger
        self.metrics = SchedulerMetrics(worker: id, factory: metricsFactory)
    }

    /// What the worker publishes in its membership value: capacity, weight, labels and handler names.
    public var info: WorkerInfo {
        WorkerInfo(
            capacity: configuration.capacity, weight: configuration.weight, labels: configuration.labels,
            handlers: handlers.keys.sorted())
    }

    /// Starts a graceful shutdown: what ``run()`` does on the service group's graceful shutdown.
    public func drain() {
        signals.push(.drain)
    }

    /// Runs the worker until a graceful shutdown (of its `ServiceGroup`, or ``drain()``) has
    /// ended or handed back its runs, or until cancelled; then returns. A store out of reach at the
    /// start is waited for.
    ///
    /// It never closes `store`: keep the store open until `run()` has returned, then close it
    /// (``CoordinationStore/close()``) so that the worker's membership and claims go at once.
    /// - Throws: what stops a duty of the worker, after handing its runs back: `nodeExists` when a
    ///   live worker already has this id, `unavailable` when the store is closed under it.
    public func run() async throws {
        // A worker started while the store is out of reach waits for it rather than exiting.
        var backoff = Backoff()
        while true {
            do {
                try await layout.ensureFolders(in: store)
                break
            } catch where StoreFailure.mayPass(error, store: store) {
                logger.warning("cannot reach the scheduler's folders yet; trying again", metadata: ["error": "\(error)"])
                try await backoff.pause()
            }
        }
        let metadata = try SchedulerJSON.encode(info)
        var drainingInfo = info
        drainingInfo.draining = true
        let drainingMetadata = try SchedulerJSON.encode(drainingInfo)
        let failure: (any Error)? = await withGracefulShutdownHandler {
            await withTaskGroup(of: Void.self) { background in
                // A background duty that fails (a duplicate worker id, a closed store) stops the
                // worker: its runs are handed back and run() throws the error.
                func duty(_ body: @escaping @Sendable () async throws -> Void) {
                    background.addTask { [signals] in
                        do { try await body() } catch is CancellationError {} catch { signals.push(.failed(error)) }
                    }
                }
                duty { [self] in
                    try await Membership(store: store, group: layout.workers, logger: logger).stayJoined(
                        id: id, metadata: { [self] in isDraining.load(ordering: .relaxed) ? drainingMetadata : metadata }
                    ) { member, sessionID in
                        self.membership.withLock { $0 = (sessionID, member) }
                        self.signals.push(.joined)
                    }
                }
                duty { [self] in await metrics.countSessionChanges(of: store) }
                let feed = ViewFeed(
                    main: { [signals] folder, event in signals.push(.view(folder, event)) },
                    roundStarted: { [signals] followsAllJobs in signals.push(.viewRound(followsAllJobs: followsAllJobs)) })
                duty { [self] in
                    let duties = LeaderDuties(
                        store: store, layout: layout, clock: clock, configuration: configuration, feed: feed, logger: logger,
                        metrics: metrics)
                    try await LeaderElection(store: store, path: layout.leader, identity: id, logger: logger).lead { [metrics] _ in
                        metrics.leader.set(1)
                        defer { metrics.leader.set(0) }
                        try await duties.run()
                    }
                }
                duty { [self] in try await feed.run(store: store, layout: layout) }
                let failure = await mainLoop(feed: feed, drainingMetadata: drainingMetadata)
                background.cancelAll()
                return failure
            }
        } onGracefulShutdown: { [signals] in
            signals.push(.drain)
        }
        if let failure {
            logger.error("worker failed", metadata: ["error": "\(failure)"])
            throw failure
        }
        logger.info("worker stopped")
    }

    /// Says in the membership value that this worker is draining, so that the others take its
    /// share of the buckets now rather than once it has left, and the leader places nothing new
    /// on it. Best effort: without it they only take over later, as before.
    private func announceDraining(_ metadata: [UInt8]) async {
        // Not joined yet: the join writes the draining value itself.
        guard let member = membership.withLock({ $0?.member }), member.metadata != metadata else { return }
        do {
            let updated = try await Membership(store: store, group: layout.workers, logger: logger).update(member, metadata: metadata)
            membership.withLock { if $0?.member.joinedRevision == updated.joinedRevision { $0?.member = updated } }
        } catch {
            // Cancelled: the worker stopped first (nothing left to finish) and leaves, which says more.
            if !Task.isCancelled {
                logger.notice("cannot say in the membership that this worker is draining", metadata: ["error": "\(error)"])
            }
        }
    }

    /// Claims and runs until drained, cancelled or failed; returns the failure.
    private func mainLoop(feed: ViewFeed, drainingMetadata: [UInt8]) async -> (any Error)? {
        var view = SchedulerView(layout: layout)
        // The buckets this worker owns (BucketShare), recomputed when the members or the
        // wide-bucket list change.
        var owned: Set<String>?
        var queue = ClaimQueue()
        let me = info
        var active: [Key: RunControl] = [:]
        // Whether the view's watches follow every job, so that a snapshot of the runs holds them all.
        var followsAllJobs = false
        var inFlight: Set<Key> = []
        // Runs whose handler returned and whose end is being recorded: in flight, but in no slot
        // (see ``Configuration/capacity``).
        var settling: Set<Key> = []
        func slotsInUse() -> Int { inFlight.count - settling.count }
        var draining = false
        var failure: (any Error)?
        let commits = GroupCommit(store: store)
        var timer = WakeTimer()
        var graceTimer: Task<Void, Never>?
        var shareMode = ShareMode(widenAfterIdle: configuration.helpAfterIdle)
        var shareTimer: (at: ContinuousClock.Instant, task: Task<Void, Never>)?
        var drainingNotice: Task<Void, Never>?
        defer {
            timer.cancel()
            graceTimer?.cancel()
            shareTimer?.task.cancel()
            drainingNotice?.cancel()
        }
        return await withDiscardingTaskGroup { executions in
            while let batch = await signals.next() {
                for next in batch {
                    switch next {
                    case .view(let folder, let event):
                        view.apply(event, to: folder)
                        queue.note(event, folder: folder, layout: layout, view: view)
                        forgetLostRaces(event, folder: folder, in: &queue)
                        switch folder {
                        case .runs, .bucket, .jobs:
                            noticeCancelRequests(event, folder: folder, wholeRuns: followsAllJobs, active: active, view: view)
                        case .workers, .wide: owned = nil
                        }
                    case .viewRound(let all):
                        followsAllJobs = all
                    case .finished(let key, let token):
                        inFlight.remove(key)
                        settling.remove(key)
                        active[key] = nil
                        if let token { queue.finishedRun(key, token: token, viewRevision: view.modRevision(ofRun: key)) }
                    case .lost(let key, let version, let stateVersion):
                        // A state that moved on since the claim began (its event already here)
                        // is no lost race: the job was re-evaluated with it.
                        if let job = key.parent?.name, view.state(of: job)?.version != stateVersion { break }
                        queue.lostRace(key, version: version)
                        if let run = view.run(at: key), run.record.status == .running {
                            Task { [signals] in
                                try? await Task.sleep(for: Self.takeoverRetryDelay)
                                signals.push(.retry(key, job: run.record.job))
                            }
                        }
                    case .removalUnderWay(let job, let tag):
                        // None of the incarnation's runs can be claimed: leave them all, for
                        // `coord job rm` to delete, rather than try each at every snapshot (an
                        // abandoned one, as a lost takeover, every ``takeoverRetryDelay``), until
                        // a recheck (``ClaimQueue/removalRecheckDelay``). A view behind a finished
                        // removal learns it here too, until it catches up.
                        if queue.noteRemovalUnderWay(of: job, incarnation: tag, view: view, now: clock.now()) {
                            logger.notice(
                                "claim refused: this incarnation of the job is removed or being removed; its runs are left alone",
                                metadata: ["job": "\(job)", "incarnation": "\(tag)"])
                        }
                    case .performed(let key):
                        // At most a capacity's worth: an end that cannot land (the store out of
                        // reach) keeps its slot beyond that, so the claims held stay bounded.
                        if inFlight.contains(key) && settling.count < configuration.capacity { settling.insert(key) }
                    case .retry(let key, let job):
                        queue.forgetLostRace(key, job: job)
                    case .wake:
                        timer.fired()
                    case .shareModeDue:
                        shareTimer = nil
                    case .joined:
                        // A join that read the metadata before the drain began (or found the
                        // member an earlier try wrote) says so now.
                        if draining && failure == nil {
                            drainingNotice?.cancel()
                            drainingNotice = Task { await announceDraining(drainingMetadata) }
                        }
                    case .drain:
                        guard !draining else { break }
                        draining = true
                        acceptingClaims.store(false, ordering: .relaxed)
                        isDraining.store(true, ordering: .relaxed)
                        logger.info("draining", metadata: ["running": "\(inFlight.count)"])
                        drainingNotice = Task { await announceDraining(drainingMetadata) }
                        let grace = configuration.gracePeriod
                        graceTimer = Task { [signals] in
                            try? await Task.sleep(for: grace)
                            if !Task.isCancelled { signals.push(.graceOver) }
                        }
                    case .graceOver:
                        for control in active.values { control.stop(.shutdown) }
                    case .failed(let error):
                        guard failure == nil else { break }
                        failure = error
                        draining = true
                        acceptingClaims.store(false, ordering: .relaxed)
                        for control in active.values { control.stop(.shutdown) }
                    }
                }
                if !draining {
                    let full = slotsInUse() >= configuration.capacity
                    if let due = shareMode.note(idle: !full && queue.readyCount == 0, full: full, now: .now), shareTimer?.at != due {
                        shareTimer?.task.cancel()
                        shareTimer = (due, Task { [signals] in
                            do {
                                try await Task.sleep(until: due)
                                signals.push(.shareModeDue)
                            } catch {}
                        })
                    }
                    watchShare(
                        view: view, owned: &owned, running: active.keys, info: me, helping: shareMode.helping, feed: feed)
                }
                if draining {
                    if inFlight.isEmpty { return failure }
                    continue
                }
                // Full: nothing to choose until a slot frees (a `.performed` or `.finished` comes);
                // the queue catches up with what changed meanwhile when it next chooses.
                if slotsInUse() >= configuration.capacity { continue }
                // Claims record our registration in the current session: none until we have joined
                // in it (the join wakes the loop).
                let sessionID = store.session.sessionID
                guard view.isMember(id),
                    let registration = membership.withLock({ $0?.sessionID == sessionID ? $0?.member.joinedRevision : nil })
                else { continue }
                let now = clock.now()
                queue.refresh(from: view, worker: id, info: me, now: now)
                // The load-aware delay lets idle workers win when work is scarce. With a backlog
                // larger than every other worker's free slots together, nobody idle can be
                // deprived, and the delay would only slow the backlog down.
                let backlog = queue.readyCount > view.freeSlots(besides: id)
                let (chosen, wakeAt) = queue.choose(
                    now: now, limit: configuration.capacity - slotsInUse(), workers: Array(view.placeableWorkers.keys), me: id,
                    skipping: inFlight)
                for entry in chosen {
                    guard let candidate = view.run(at: entry.key), let spec = view.specs[candidate.record.job],
                        let handler = handlers[spec.handler],
                        // A run of another incarnation of the job than the record the view holds
                        // waits for the view to catch up, rather than run by the wrong spec.
                        RunID.belongs(candidate.record.run, toIncarnation: view.state(of: spec.id)?.state.incarnation)
                    else { continue }
                    inFlight.insert(candidate.key)
                    let control = RunControl(fence: candidate.version)
                    active[candidate.key] = control
                    let busy = Double(slotsInUse() - 1) / Double(configuration.capacity)
                    let state = view.state(of: spec.id)
                    let stateVersion = state?.version
                    // A key that cannot be made was never created with the job: nothing to check.
                    let incarnation = try? state.map { try IncarnationFence(job: spec.id, state: $0.state, layout: layout) }
                    let execution = RunExecution(
                        store: store, layout: layout, worker: id, clock: clock, logger: logger, spec: spec,
                        candidate: candidate, previousToken: candidate.claimToken, handler: handler,
                        historyRoom: state.flatMap {
                            HistoryRoom(spec: spec, state: $0.state, version: $0.version, layout: layout)
                        }, stateVersion: stateVersion, incarnation: incarnation, commits: commits, registration: registration,
                        registrationSession: sessionID)
                    // A job of a bucket only its owner and the leader watch (``BucketShare``)
                    // has no idle worker to wait for.
                    let narrow = view.wideBuckets.map { !$0.contains(SchedulerLayout.bucket(of: spec.id)) } ?? false
                    let delay = spec.placement == .compete && !backlog && !narrow ? configuration.loadDelay * busy : .zero
                    executions.addTask { [self] in
                        if delay > .zero {
                            logger.debug(
                                "waiting out the load delay before claiming", metadata: ["run": "\(candidate.key)", "delay": "\(delay)"])
                            try? await Task.sleep(for: delay)
                        }
                        var token: Int64?
                        defer { signals.push(.finished(candidate.key, token: token)) }
                        // A drain clears `acceptingClaims`; outright cancellation only cancels this
                        // task, and ends the delay early: claimed then, the run was handed back at once.
                        guard acceptingClaims.load(ordering: .relaxed), !Task.isCancelled else { return }
                        let claimSession = execution.registrationSession
                        let claimStart = ContinuousClock.now
                        do {
                            let result = try await execution.claim(control: control)
                            metrics.claimDuration.recordDuration(claimStart.duration(to: .now))
                            if let claim = result.won {
                                token = claim.token
                                metrics.claimWon(candidate.record, now: claim.record.startedAt)
                                defer { metrics.runsHeld.decrement() }
                                // Counted as its handler starts: a stop may come first.
                                let started = HandlerStart()
                                let outcome: RunExecution.Outcome =
                                    if claim.finalEntry != nil { .cancelled(nil) } else {
                                        await execution.perform(claim, control: control) { [metrics] begun in
                                            started.note(begun)
                                            metrics.runsStarted.increment()
                                        }
                                    }
                                let ran = started.instant.map { $0.duration(to: .now) }
                                signals.push(.performed(candidate.key))
                                // Recorded even when the worker is being cancelled: a hand-back
                                // must not be cut short, or the run would wait for our session to end.
                                let recorded = await Task { await execution.settle(outcome, claim: claim, control: control) }.value
                                // Refused (our session ended first): the claim's own write may be
                                // the run's last, so only the versions before it are left out.
                                if recorded == nil { token = claim.token - 1 }
                                if let ran { metrics.finished(recorded: recorded, duration: ran) }
                            } else {
                                lostClaims.add(1, ordering: .relaxed)
                                metrics.claimsLost.increment()
                                if case .jobBeingRemoved = result, let tag = state?.state.incarnation {
                                    signals.push(.removalUnderWay(job: spec.id, incarnation: tag))
                                } else {
                                    signals.push(.lost(candidate.key, version: candidate.version, stateVersion: stateVersion))
                                }
                            }
                        } catch {
                            metrics.claimErrors.increment()
                            // Not a lost race: the store failed us (contact lost, or our session
                            // expired under the transaction). Leave the run alone instead of
                            // spinning, but only until our session is usable again: nothing else
                            // may ever change the run (on etcd no watch resyncs after an expiry),
                            // and if every worker failed alike nobody would claim it again.
                            logger.warning("claim failed", metadata: ["run": "\(candidate.key)", "error": "\(error)"])
                            signals.push(.lost(candidate.key, version: candidate.version, stateVersion: stateVersion))
                            let expired = (error as? CoordinationError)?.code == .sessionExpired
                            // Bounded (two TTLs): if the session is still not back, trying again
                            // fails and waits again, at that pace.
                            _ = await execution.waitForUsableSession(replacing: expired ? claimSession : nil)
                            signals.push(.retry(candidate.key, job: candidate.record.job))
                        }
                    }
                }
                let clock = clock
                timer.keep(for: wakeAt, now: now) { wakeAt in
                    Task { [signals] in
                        do {
                            // A step back wakes it too: a retry's back-off is not to wait for the
                            // wall clock to read its time again (``ClaimQueue``).
                            try await clock.sleepUntilOrStepBack(wakeAt)
                            signals.push(.wake)
                        } catch {}
                    }
                }
            }
            // The stream ended: this task was cancelled. Runs see the cancellation and hand back.
            return failure
        }
    }

    /// Tells the feed which jobs to watch: every bucket while the leader lists no wide buckets or
    /// while we help (``ShareMode``), else this worker's share (``BucketShare``), once the
    /// members and the list are known. Not narrowed while we are not a member in the view (a new
    /// session joining): the share would be computed without us.
    private func watchShare(
        view: SchedulerView, owned: inout Set<String>?, running: some Sequence<Key>, info: WorkerInfo, helping: Bool,
        feed: ViewFeed
    ) {
        guard view.hasSnapshot(of: .wide) else { return }
        guard let wide = view.wideBuckets, !helping else { return feed.setJobs(.all) }
        guard view.hasSnapshot(of: .workers), view.isMember(id) else { return }
        if owned == nil { owned = BucketShare.owned(by: id, info: info, members: view.workers) }
        var buckets = owned!.union(wide)
        for key in running {
            if let job = layout.jobID(of: key, in: layout.jobs) { buckets.insert(SchedulerLayout.bucket(of: job)) }
        }
        feed.setJobs(buckets.count >= SchedulerLayout.bucketCount ? .all : .buckets(buckets))
    }
}
