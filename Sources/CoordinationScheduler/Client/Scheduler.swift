public import Coordination
import Foundation
public import Logging

/// The scheduler's API for everything that is not a worker: submit and validate jobs, show and
/// list them, pause, resume, cancel, trigger, remove, and list runs, history and workers, or
/// follow them as they change (``activity(historySince:)``).
/// Backs `coord job …`, `coord jobs`, `coord runs` and `coord workers`.
///
/// It runs nothing itself: ``Worker``s, in this process or others, run the jobs' handlers. A
/// scheduler needs no worker to be live to submit, and no `close()`: it borrows `store`.
public struct Scheduler: Sendable {
    public let store: any CoordinationStore
    public let layout: SchedulerLayout
    let clock: WallClock
    let logger: Logger

    /// - Parameters:
    ///   - store: any handle on the store the workers use; the caller closes it.
    ///   - layout: where jobs, runs, workers and history live: the same as the workers'
    ///     (``Worker/layout``), or they never see the jobs.
    ///   - clock: the wall clock for submission times and schedules (injectable for tests).
    public init(
        store: any CoordinationStore, layout: SchedulerLayout = SchedulerLayout(), clock: WallClock = .system,
        logger: Logger = Logger(label: "coordination.scheduler")
    ) {
        self.store = store
        self.layout = layout
        self.clock = clock
        self.logger = logger
    }

    var history: HistoryWriter { HistoryWriter(store: store, layout: layout) }

    // MARK: Submitting

    /// Checks a job without submitting it; throws `invalidConfiguration` naming the problem.
    public func validate(_ spec: JobSpec) throws(CoordinationError) {
        try spec.validate(now: clock.now(), layout: layout)
    }

    /// Validates and stores a new job. A one-shot job's runs are created in the same transaction,
    /// so it never waits for a leader; recurring jobs are materialised by the leader. Its runs
    /// wait, pending, until a live worker has its handler and required labels, with no word from
    /// anyone: ``workers()`` with ``WorkerInfo/canRun(_:)`` tells whether one is live now.
    /// - Throws: `invalidConfiguration`; `nodeExists` when a job with this id exists.
    public func submit(_ spec: JobSpec) async throws {
        try spec.validate(now: clock.now(), layout: layout)
        let submission = try JobSubmission(spec, now: clock.now(), workers: try await eligibleWorkers(for: spec), layout: layout)
        try await write(submission.operations, of: [submission])
        try await submission.createRemainingRuns(in: store, layout: layout)
        logger.debug("job submitted", metadata: ["job": "\(spec.id)", "runs": "\(submission.runCount)"])
    }

    /// Validates every job first, then stores them several to a transaction (each job whole in one),
    /// so that many jobs cost a few round trips instead of one each, and watchers see them in a
    /// few bursts. Jobs of one bucket (``SchedulerLayout/bucket(of:)``) go together, since each
    /// folder a transaction creates in costs etcd a check; within a bucket they keep their order.
    /// The transactions are written one after another; when one fails (a job that exists), the
    /// jobs of the transactions before it are stored and the rest are not.
    /// - Throws: `invalidConfiguration` (nothing stored); `nodeExists` naming the job that exists.
    public func submit(_ specs: [JobSpec]) async throws {
        for spec in specs { try spec.validate(now: clock.now(), layout: layout) }
        let workers = specs.contains { $0.placement == .broadcast } ? try await workers() : []
        let now = clock.now()
        var batch: [JobSubmission] = []
        var operations: [Coordination.Operation] = []
        var bytes = 0
        func flush() async throws {
            guard !batch.isEmpty else { return }
            try await write(operations, of: batch)
            for submission in batch { try await submission.createRemainingRuns(in: store, layout: layout) }
            batch = []
            operations = []
            bytes = 0
        }
        let byBucket = specs.enumerated().sorted { lhs, rhs in
            let (left, right) = (SchedulerLayout.bucket(of: lhs.element.id), SchedulerLayout.bucket(of: rhs.element.id))
            return left != right ? left < right : lhs.offset < rhs.offset
        }
        for (_, spec) in byBucket {
            let eligible = spec.placement == .broadcast ? workers.filter { $0.info.takesNewRuns(of: spec) }.map(\.id) : []
            let submission = try JobSubmission(spec, now: now, workers: eligible, layout: layout)
            // Large jobs (a big payload) fill a transaction's bytes before its operations.
            if operations.count + submission.operations.count > Self.operationsPerSubmission
                || bytes + submission.bytes > CoordinationLimits.maxTransactionBytes
            {
                try await flush()
            }
            batch.append(submission)
            operations += submission.operations
            bytes += submission.bytes
        }
        try await flush()
        logger.debug("jobs submitted", metadata: ["jobs": "\(specs.count)"])
    }

    /// The most operations one submission transaction carries when it holds several jobs (16
    /// one-shot jobs of 4 creations each).
    static let operationsPerSubmission = CoordinationLimits.maxTransactionOperations

    /// Applies the creations of `submissions` (concatenated in `operations`) in one transaction,
    /// creating the scheduler's folders first when they are missing, and names the job in the way.
    private func write(_ operations: [Coordination.Operation], of submissions: [JobSubmission]) async throws {
        // Which job (and which of its operations) a failed operation index belongs to.
        func locate(_ index: Int?) -> (job: String, offset: Int)? {
            guard var offset = index else { return nil }
            for submission in submissions {
                if offset < submission.operations.count { return (submission.spec.id, offset) }
                offset -= submission.operations.count
            }
            return nil
        }
        do {
            do {
                _ = try await store.transaction(operations)
            } catch let error as CoordinationError
                where error.code == .noNode && (locate(error.failedOperation)?.offset ?? JobSubmission.folderCount) < JobSubmission.folderCount
            {
                // The scheduler's folders do not exist yet (the first job): make them, once.
                try await layout.ensureFolders(in: store)
                _ = try await store.transaction(operations)
            }
        } catch let error as CoordinationError where error.code == .nodeExists {
            guard let (job, offset) = locate(error.failedOperation) else { throw error }
            if offset == 0 {
                throw CoordinationError(.nodeExists, "job \(job) already exists; remove it first", key: try layout.job(job))
            }
            throw CoordinationError(
                .nodeExists, "leftovers of an earlier job \(job) are in the way (\(error.message)); remove the job first",
                key: error.key)
        }
    }

    // MARK: Reading

    /// A job as stored: its definition and its state (the name before ``JobRecord``).
    public typealias JobView = JobRecord

    /// The job `id`, or `nil` when there is none.
    /// - Throws: ``SchedulerError/earlierLayout(root:)`` when the root is in an earlier coord's layout.
    public func job(_ id: String) async throws -> JobRecord? {
        try await storedJob(id)?.job
    }

    /// The ids among `ids` that a stored job has, in their order: so that a caller adding several
    /// jobs can refuse them all, naming every one in the way, before writing any.
    public func existingJobs(among ids: [String]) async throws -> [String] {
        let store = store
        let keys = try ids.map { id throws(CoordinationError) in try layout.job(id) }
        let found = try await Self.concurrently(keys.count) { index in try await store.exists(keys[index]) }
        return zip(ids, found).filter(\.1).map(\.0)
    }

    /// The job `id` with its record's version (for a compare-and-set), or `nil` when there is none.
    func storedJob(_ id: String) async throws -> (job: JobRecord, version: Int64)? {
        // Perhaps kept where (or as) an earlier coord kept it: say so rather than "no job", or
        // rather than that the record is not a job's.
        guard let record = try await store.get(try layout.job(id)) else {
            if try await layout.holdsEarlierLayout(in: store) { throw SchedulerError.earlierLayout(root: layout.root) }
            return nil
        }
        do {
            return (try record.decoded(JobRecord.self), record.version)
        } catch {
            if try await layout.holdsEarlierLayout(in: store) { throw SchedulerError.earlierLayout(root: layout.root) }
            throw error
        }
    }

    /// Every job, sorted by id. Reads many at once: one after another, 10,000 kept jobs took
    /// `coord jobs` 19 s on ZooKeeper.
    /// - Throws: ``SchedulerError/earlierLayout(root:)`` for a root in an earlier coord's layout;
    ///   `invalidConfiguration` naming the first record that does not decode as a job's.
    public func jobs() async throws -> [JobRecord] {
        let read = try await readableJobs()
        if let unreadable = read.unreadable.first { throw unreadable }
        return read.jobs
    }

    /// Every job whose record decodes, sorted by id, and for each record that does not (written
    /// by hand, or by a later coord with a schedule this one cannot read) the error naming it.
    private func readableJobs() async throws -> (jobs: [JobRecord], unreadable: [CoordinationError]) {
        guard try await store.exists(layout.jobs) else { return ([], []) }
        let buckets = try await store.children(of: layout.jobs)
        if try await layout.holdsEarlierLayout(in: store, jobsListing: Set(buckets)) { throw SchedulerError.earlierLayout(root: layout.root) }
        let ids = try await jobIDs(in: layout.jobs, buckets: buckets)
        let read = try await Self.concurrently(ids.count) { index -> Result<JobRecord?, CoordinationError> in
            do {
                return .success(try await job(ids[index]))
            } catch let error as CoordinationError where error.code == .invalidConfiguration {
                return .failure(error)
            }
        }
        let (jobs, unreadable) = Self.partitioned(read)
        return (jobs.compactMap { $0 }, unreadable)
    }

    /// What was read, and the errors of what was not, each in order.
    static func partitioned<Value>(_ results: [Result<Value, CoordinationError>]) -> ([Value], [CoordinationError]) {
        var values: [Value] = []
        var errors: [CoordinationError] = []
        for result in results {
            switch result {
            case .success(let value): values.append(value)
            case .failure(let error): errors.append(error)
            }
        }
        return (values, errors)
    }

    /// The ids of the jobs in a bucketed folder's `buckets`, sorted, the buckets listed many at once.
    private func jobIDs(in folder: Key, buckets: [String] = SchedulerLayout.bucketNames) async throws -> [String] {
        let store = store
        let folders = try buckets.map { name throws(CoordinationError) in try folder.child(name) }
        return try await Self.concurrently(folders.count) { index in
            do { return try await store.children(of: folders[index]) } catch let error as CoordinationError where error.code == .noNode {
                return []
            }
        }.flatMap { $0 }.sorted()
    }

    /// Every job's active runs, by job id, many jobs read at once (`coord workers` counts each
    /// worker's running runs from them).
    public func allActiveRuns() async throws -> [String: [ActiveRun]] {
        let ids = try await jobIDs(in: layout.jobs)
        let runs = try await Self.concurrently(ids.count) { index in try await activeRuns(of: ids[index]) }
        return Dictionary(uniqueKeysWithValues: zip(ids, runs)).filter { !$0.value.isEmpty }
    }

    /// The live workers and every job's active runs (`coord workers`), and the records among them
    /// that do not decode, so that one of them leaves the rest listed.
    public struct WorkersOverview: Sendable {
        /// The live workers whose registrations read.
        public let workers: [WorkerView]
        /// Every active run that reads, of every job.
        public let activeRuns: [ActiveRun]
        /// For each worker's registration or run that does not decode, the `invalidConfiguration`
        /// error naming its key and what is wrong.
        public let unreadable: [CoordinationError]
    }

    /// The live workers and every job's active runs, records that do not decode set apart.
    public func workersOverview() async throws -> WorkersOverview {
        let (workers, unreadableWorkers) = Self.partitioned(try await readWorkers())
        let ids = try await jobIDs(in: layout.jobs)
        let (runs, unreadableRuns) = Self.partitioned(
            try await Self.concurrently(ids.count) { index in try await readActiveRuns(of: ids[index]) }.flatMap { $0 })
        return WorkersOverview(workers: workers, activeRuns: runs, unreadable: unreadableWorkers + unreadableRuns)
    }

    /// A job with what a listing shows of it besides its definition and state.
    public struct JobOverview: Sendable, Hashable {
        public let job: JobRecord
        /// How many of its runs are pending or running.
        public let activeRuns: Int
        /// Its newest history entry.
        public let last: HistoryEntry?
        /// Whether its removal is unfinished (``isBeingRemoved(_:)``).
        public let beingRemoved: Bool
    }

    /// Every job with its active runs and newest history entry, and the records that do not
    /// decode, so that one of them leaves the other jobs listed (`coord jobs`).
    public struct JobsOverview: Sendable {
        /// The jobs whose records read, sorted by id.
        public let jobs: [JobOverview]
        /// For each record that does not decode (a job's, a run's or a history entry's; its job
        /// is left out of ``jobs``), the `invalidConfiguration` error that names its key and what
        /// is wrong.
        public let unreadable: [CoordinationError]
    }

    /// Every job with its active runs and newest history entry (`coord jobs`), sorted by id,
    /// many jobs read at once.
    public func overview() async throws -> JobsOverview {
        let (jobs, unreadableJobs) = try await readableJobs()
        let read = try await Self.concurrently(jobs.count) { index -> Result<JobOverview, CoordinationError> in
            let id = jobs[index].spec.id
            do {
                async let active = activeRuns(of: id)
                async let last = lastHistoryEntry(of: id)
                async let removing = isBeingRemoved(jobs[index])
                return .success(
                    JobOverview(job: jobs[index], activeRuns: try await active.count, last: try await last, beingRemoved: try await removing))
            } catch let error as CoordinationError where error.code == .invalidConfiguration {
                return .failure(error)
            }
        }
        let (overviews, unreadable) = Self.partitioned(read)
        return JobsOverview(jobs: overviews, unreadable: unreadableJobs + unreadable)
    }

    /// Whether `job` (as read) is being removed: its incarnation key is gone. ``remove(_:)``
    /// deletes it first, so this is a removal under way or one that stopped halfway, whose job
    /// stays, every change of it refused, and left alone by the leader (no fire times) until
    /// ``remove(_:)`` (`coord job rm`) is run again and finishes it. `false` for a job added by
    /// an earlier version, which has no key.
    public func isBeingRemoved(_ job: JobRecord) async throws -> Bool {
        // The key and the record were created together, so the key existed when `job` was read.
        guard let key = try IncarnationFence(job: job.spec.id, state: job.state, layout: layout).key else { return false }
        return try await !store.exists(key)
    }

    /// `body(0)` … `body(count - 1)`, at most `width` at a time, in index order.
    static func concurrently<Value: Sendable>(
        _ count: Int, width: Int = 32, _ body: @escaping @Sendable (Int) async throws -> Value
    ) async throws -> [Value] {
        try await withThrowingTaskGroup(of: (Int, Value).self) { group in
            var values: [Value?] = Array(repeating: nil, count: count)
            var next = 0
            var running = 0
            while next < count || running > 0 {
                if next < count && running < width {
                    try Task.checkCancellation()
                    let index = next
                    group.addTask { (index, try await body(index)) }
                    next += 1
                    running += 1
                } else if let (index, value) = try await group.next() {
                    values[index] = value
                    running -= 1
                }
            }
            return values.map { $0! }
        }
    }

    /// An active run and, while it is claimed, its claim's fencing token.
    public struct ActiveRun: Sendable, Hashable {
        public let record: RunRecord
        public let token: Int64?
        public let version: Int64
    }

    /// The job's active runs (pending and running), by run id.
    public func activeRuns(of job: String) async throws -> [ActiveRun] {
        try await readActiveRuns(of: job).map { try $0.get() }
    }

    /// The job's active runs as read, each one that does not decode as its error.
    func readActiveRuns(of job: String) async throws -> [Result<ActiveRun, CoordinationError>] {
        let folder = try layout.runs(of: job)
        let names: [String]
        // The job may be removed meanwhile (the leader's sweep): then it has no active run.
        do { names = try await store.children(of: folder) } catch let error as CoordinationError where error.code == .noNode { return [] }
        var result: [Result<ActiveRun, CoordinationError>] = []
        for name in names {
            guard let record = try await store.get(try folder.child(name)) else { continue }
            let claim = try await store.get(try layout.claim(job, name))
            result.append(
                Result { () throws(CoordinationError) in
                    ActiveRun(record: try record.decoded(RunRecord.self), token: claim?.createRevision, version: record.version)
                })
        }
        return result
    }

    /// The job's history, oldest first.
    public func history(of job: String) async throws -> [HistoryEntry] {
        try await readHistory(of: job).map { try $0.get() }
    }

    /// The job's history as read, oldest first, each entry that does not decode as its error.
    func readHistory(of job: String) async throws -> [Result<HistoryEntry, CoordinationError>] {
        let folder = try layout.history(of: job)
        guard try await store.exists(folder) else { return [] }
        var result: [Result<HistoryEntry, CoordinationError>] = []
        for name in try await store.children(of: folder) {
            if let record = try await store.get(try folder.child(name)) {
                result.append(Result { () throws(CoordinationError) in try record.decoded(HistoryEntry.self) })
            }
        }
        return result
    }

    /// A job's runs as `coord runs` shows them, and the records among them that do not decode,
    /// so that one of them leaves the rest listed.
    public struct RunsOverview: Sendable {
        /// The active runs that read (pending and running).
        public let active: [ActiveRun]
        /// The history entries that read, oldest first.
        public let history: [HistoryEntry]
        /// For each run or entry that does not decode, the `invalidConfiguration` error naming
        /// its key and what is wrong.
        public let unreadable: [CoordinationError]
    }

    /// The job's active runs and history, records that do not decode set apart.
    public func runsOverview(of job: String) async throws -> RunsOverview {
        let (active, unreadableRuns) = Self.partitioned(try await readActiveRuns(of: job))
        let (history, unreadableEntries) = Self.partitioned(try await readHistory(of: job))
        return RunsOverview(active: active, history: history, unreadable: unreadableRuns + unreadableEntries)
    }

    /// The job's newest history entry, reading that entry alone.
    public func lastHistoryEntry(of job: String) async throws -> HistoryEntry? {
        let folder = try layout.history(of: job)
        let names: [String]
        do { names = try await store.children(of: folder) } catch let error as CoordinationError where error.code == .noNode { return nil }
        // Sequential names sort in creation order; an entry trimmed meanwhile is skipped.
        for name in names.reversed() {
            if let record = try await store.get(try folder.child(name)) { return try record.decoded(HistoryEntry.self) }
        }
        return nil
    }

    /// A live worker.
    public struct WorkerView: Sendable, Hashable {
        public let id: String
        public let info: WorkerInfo
    }

    /// The live workers, by id.
    public func workers() async throws -> [WorkerView] {
        try await readWorkers().map { try $0.get() }
    }

    /// The live workers as read, each registration that does not decode as its error.
    func readWorkers() async throws -> [Result<WorkerView, CoordinationError>] {
        guard try await store.exists(layout.workers) else { return [] }
        var result: [Result<WorkerView, CoordinationError>] = []
        for id in try await store.children(of: layout.workers) {
            if let record = try await store.get(try layout.worker(id)) {
                result.append(Result { () throws(CoordinationError) in WorkerView(id: id, info: try record.decoded(WorkerInfo.self)) })
            }
        }
        return result
    }

    func eligibleWorkers(for spec: JobSpec) async throws -> [String] {
        guard spec.placement == .broadcast else { return [] }
        return try await workers().filter { $0.info.takesNewRuns(of: spec) }.map(\.id)
    }

    // MARK: Controlling

    /// Stops materialising and claiming the job's runs (runs already running finish).
    public func pause(_ id: String) async throws {
        try await updateState(id) { $1.paused = true }
    }

    /// Resumes a paused job. Fire times that passed while it was paused are not run: they were
    /// paused, not missed. Which those are, the leader decides on its own clock (see
    /// ``JobState/resumedAt``), so that a client's clock ahead of it loses no fire time. A job
    /// that is not paused is left as it is: its fire times still to be materialised (while no
    /// leader led) follow its misfire policy, rather than vanishing.
    public func resume(_ id: String) async throws {
        let now = clock.now()
        try await updateState(id) { spec, state in
            guard state.paused else { return }
            state.paused = false
            // Only the leader's fire times need it: a one-shot job's runs exist already.
            if spec.schedule.isRecurring { state.resumedAt = now }
        }
    }

    /// Runs the job now, once (every item, or every eligible worker for a broadcast job),
    /// whatever its schedule. Returns the new run ids: none for a broadcast with no eligible
    /// worker, and none for one whose runs did not all fit one transaction when the job was
    /// removed (perhaps added again under its id) before the rest were created, since those
    /// never were and the others went with the job.
    @discardableResult
    public func trigger(_ id: String) async throws -> [String] {
        var refused: IncarnationFence?
        while true {
            guard let (stored, version) = try await storedJob(id) else { throw try await missingJob(id) }
            var job = stored
            let fence = try IncarnationFence(job: id, state: job.state, layout: layout)
            // Its removal is under way: this incarnation's key went before a read of it.
            if let refused, refused == fence { throw CoordinationError.noJob(id) }
            let firstChunk = RunPlan.firstChunk(of: job.state)
            let workers = try await eligibleWorkers(for: job.spec)
            job.state.triggers += 1
            let now = clock.now()
            let number = job.state.triggers
            let incarnation = job.state.incarnation
            let runs = RunPlan.runs(of: job.spec, scheduledAt: now, notBefore: now, broadcastTo: workers) {
                RunID.triggered(number: number, item: $0, incarnation: incarnation, worker: $1)
            }
            if let unfinished = RunPlan.unfinished(
                runs, run: RunID.triggered(number: number, item: 0, incarnation: incarnation), scheduledAt: now, firstChunk: firstChunk)
            {
                job.state.unfinishedBroadcasts.append(unfinished)
            }
            let creates = try RunPlan.createOperations(Array(runs.prefix(firstChunk)), layout: layout)
            do {
                _ = try await store.transaction(
                    fence.checks + [.set(try layout.job(id), value: try job.encoded(), ifVersion: version)] + creates)
            } catch let error as CoordinationError where error.code == .versionConflict && error.failedOperation == fence.checks.count {
                continue
            } catch let error as CoordinationError where fence.refused(error) {
                refused = fence  // removed, perhaps added again: the job there now is triggered
                continue
            }
            if runs.count > firstChunk,
                case .jobRemoved = try await RunPlan.continueBroadcasts(
                    of: id, incarnation: incarnation, workers: workers, in: store, layout: layout)
            {
                // Removed (perhaps added again) between the chunks: the runs past the first were
                // never created, and the first went with the job; none is the job's there now.
                return []
            }
            return runs.map(\.run)
        }
    }

    /// What ``cancel(_:)`` did, run ids sorted.
    public struct Cancellation: Sendable, Hashable {
        /// Pending runs removed (recorded as `cancelled`).
        public var removed: [String]
        /// Running runs whose workers were asked to stop them (they record `cancelled`).
        public var askedToStop: [String]
    }

    /// Cancels the job's active runs: pending ones are removed and recorded as `cancelled`;
    /// running ones are asked to cancel (their worker records `cancelled`; an attempt that had
    /// already failed, or was being handed back, as the request came ends the run as it is, its
    /// failure's entry saying it is not retried). A broadcast whose writer stopped before it had
    /// created every worker's run gets no more runs. The schedule stays.
    @discardableResult
    public func cancel(_ id: String) async throws -> Cancellation {
        try await requireJobKey(id)
        // First, so that no run of theirs is created after the runs are listed below.
        try await endUnfinishedBroadcasts(of: id)
        let outcomes = try await RunCanceller(store: store, layout: layout, now: clock.now)
            .cancelActiveRuns(of: id, reason: "cancelled by request")
        return Cancellation(
            removed: outcomes.filter { $0.value == .removed }.keys.sorted(),
            askedToStop: outcomes.filter { $0.value == .askedToStop }.keys.sorted())
    }

    /// Ends the job's broadcasts whose writer stopped before creating every worker's run
    /// (``JobState/unfinishedBroadcasts``): cancelled, their other runs were created afterwards
    /// by the leader (``RunPlan/continueBroadcasts(of:incarnation:workers:in:layout:)``), and ran. A
    /// compare-and-set of the job's record, which every chunk of runs also checks; a record
    /// that does not decode has none.
    func endUnfinishedBroadcasts(of id: String) async throws {
        let key = try layout.job(id)
        var refused: IncarnationFence?
        while true {
            guard let stored = try await store.get(key), var job = try? stored.decoded(JobRecord.self),
                !job.state.unfinishedBroadcasts.isEmpty
            else { return }
            let fence = try IncarnationFence(job: id, state: job.state, layout: layout)
            if let refused, refused == fence { return }  // its removal is under way
            job.state.unfinishedBroadcasts = []
            do {
                _ = try await store.transaction(fence.checks + [.set(key, value: try job.encoded(), ifVersion: stored.version)])
                return
            } catch let error as CoordinationError where error.code == .versionConflict {
                continue
            } catch let error as CoordinationError where fence.refused(error) {
                refused = fence  // removed, perhaps added again: read it again
            } catch let error as CoordinationError where error.code == .noNode {
                return  // removed meanwhile: so are its runs
            }
        }
    }

    /// Removes the job, its active runs (running ones are asked to cancel first), its history and
    /// its incarnation key. The key goes first, so that no write from a read of the job lands
    /// after (``IncarnationFence``); should the removal stop right then, the job stays, its
    /// writes refused, until it is removed again.
    public func remove(_ id: String) async throws {
        try await requireJobKey(id)
        try await RunCanceller(store: store, layout: layout, now: clock.now).cancelActiveRuns(of: id, reason: "job removed")
        if let record = try await store.get(try layout.job(id)), let job = try? record.decoded(JobRecord.self),
            let tag = job.state.incarnation
        {
            // By its tag, fenced or not: a record an earlier coord wrote back without `fenced`
            // still has its key, which would outlive the job (and let the leader fence it again).
            do { try await store.delete(try layout.incarnation(of: id, tag: tag), ifVersion: nil) } catch let error as CoordinationError
                where error.code == .noNode {}
        }
        // The job's key holds its runs, removed with it (a live claim too: its worker's write is fenced).
        for key in [try layout.job(id), try layout.history(of: id)] {
            do { try await store.delete(key, ifVersion: nil, recursive: true) } catch let error as CoordinationError
                where error.code == .noNode {}
        }
        logger.info("job removed", metadata: ["job": "\(id)"])
    }

    /// Applies `change` to the job's state with a compare-and-set of its record, retrying on conflicts.
    /// A job removed and added again meanwhile is read again, and changed instead: as if the
    /// change came after (``IncarnationFence``).
    func updateState(_ id: String, _ change: (JobSpec, inout JobState) -> Void) async throws {
        var refused: IncarnationFence?
        while true {
            guard let (stored, version) = try await storedJob(id) else { throw try await missingJob(id) }
            var job = stored
            let fence = try IncarnationFence(job: id, state: job.state, layout: layout)
            // Its removal is under way: this incarnation's key went before a read of it.
            if let refused, refused == fence { throw CoordinationError.noJob(id) }
            change(job.spec, &job.state)
            do {
                _ = try await store.transaction(fence.checks + [.set(try layout.job(id), value: try job.encoded(), ifVersion: version)])
                return
            } catch let error as CoordinationError where error.code == .versionConflict {
                continue
            } catch let error as CoordinationError where fence.refused(error) {
                refused = fence
            }
        }
    }
}

extension Scheduler {
    /// Throws unless the job's key exists. A record that does not decode is refused only when the
    /// root is in an earlier coord's layout (then it is that coord's job); a damaged record can
    /// still be cancelled or removed.
    func requireJobKey(_ id: String) async throws {
        guard let record = try await store.get(try layout.job(id)) else { throw try await missingJob(id) }
        if (try? record.decoded(JobRecord.self)) == nil, try await layout.holdsEarlierLayout(in: store) {
            throw SchedulerError.earlierLayout(root: layout.root)
        }
    }

    /// The error for a job that is not there: the root's earlier layout when that is why.
    func missingJob(_ id: String) async throws -> any Error {
        try await layout.holdsEarlierLayout(in: store) ? SchedulerError.earlierLayout(root: layout.root) : CoordinationError.noJob(id)
    }
}

extension CoordinationError {
    static func noJob(_ id: String) -> CoordinationError {
        CoordinationError(.noNode, "no job \(id)")
    }
}
