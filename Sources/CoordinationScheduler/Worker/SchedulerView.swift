import Coordination
import Foundation

/// What a worker or the leader knows of the scheduler's state, kept current by watches (a fresh
/// snapshot after lost continuity simply replaces that folder's view). The leader's view holds
/// every job; a worker that does not lead sees the jobs of the buckets it watches (``BucketShare``).
///
/// Job records (spec and state) and run records are decoded as they arrive: the leader needs
/// every job's kind, and every worker which runs each worker is running (its load, and the runs a
/// change of membership abandons).
///
/// Claims are not watched. A running run is held while its worker is a member with the
/// registration its record names (``RunRecord/registration``): a member key and the claims of its
/// session end together, so a run whose worker's key is gone, or was created anew, has lost its
/// claim. The claim key remains what makes a takeover safe: creating it fails while the old one
/// lives, whatever a lagging view believed. Leaving claims out of the watch saved each worker on
/// ZooKeeper a listing of every run when it appeared, another when it was claimed, and a read of
/// the claim (about a third of its reads per job).
struct SchedulerView: Sendable {
    /// What the view is made of. `jobs` and `runs` come from one watch of `R/jobs` down to the
    /// runs (``WatchScope/greatGrandchildren``: buckets, jobs, runs; not the runs' claims), split
    /// by depth; `jobs` carries the jobs' states (``JobRecord``).
    enum Folder: Sendable, Hashable {
        case jobs, runs, workers
        /// The leader's list of wide buckets (``SchedulerLayout/wideBuckets``): a watch of that key.
        case wide
        /// One bucket of `R/jobs`, watched on its own by a worker that watches its share
        /// (``BucketShare``): a snapshot replaces that bucket's jobs and runs in the view, a
        /// delete of the bucket's key drops them (the watch ended). Its puts and deletes of jobs
        /// and runs come as events of `jobs` and `runs`.
        case bucket(String)
    }

    let layout: SchedulerLayout
    /// Which folders have delivered their first snapshot.
    private var loaded: Set<Folder> = []
    /// Decoded once per change (not per look): records that fail to decode are left out.
    private(set) var specs: [String: JobSpec] = [:]
    /// The jobs the leader has work for (recurring or planned), kept per change of one job rather
    /// than filtered from every job: the leader plans after every burst of events, and most jobs
    /// are one-shot and compete.
    private var recurringJobs: Set<String> = []
    private var sortedRecurring: [String]?
    private var plannedJobs: Set<String> = []
    /// The wide jobs (``BucketShare/isWide(_:)``), kept the same way: the leader asks for their
    /// buckets after every burst of events.
    private var wideJobs: Set<String> = []
    /// Each job's state with its record's version (what a compare-and-set of the state checks).
    private var states: [String: (state: JobState, version: Int64)] = [:]
    /// Each job's record's `createRevision`: a job removed and added again under the same id
    /// starts at the same version, and only this tells the two apart.
    private var creations: [String: Int64] = [:]
    /// Active runs: the record, and its value (`nil` when it does not decode).
    private var runsByKey: [Key: (record: Record, value: RunRecord?)] = [:]
    /// The keys of each job's active runs: a worker re-evaluates one job's runs per change.
    private var runKeysByJob: [String: Set<Key>] = [:]
    /// The running runs of each worker, by their records: its load (the load-aware delay,
    /// least-loaded placement), and the runs its leaving or returning abandons.
    private var runningRunsByWorker: [String: Set<Key>] = [:]
    private(set) var workers: [String: WorkerInfo] = [:] {
        didSet { placeableWorkers = workers.filter { !$0.value.draining } }
    }
    /// The live workers that take new runs: not draining (``WorkerInfo/draining``). Kept per
    /// change of the members, not filtered on each choice of the claiming loop.
    private(set) var placeableWorkers: [String: WorkerInfo] = [:]
    /// Each member's registration: its key's `createRevision`.
    private var registrations: [String: Int64] = [:]
    /// The buckets the leader lists as wide; `nil` while it lists none (the key is absent, or
    /// holds anything but a list of bucket names), when every worker watches every bucket.
    private(set) var wideBuckets: Set<String>?
    /// The list as stored, to tell the leader whether it must write it again.
    private(set) var storedWideBuckets: [String]?
    /// The list's key's version while it exists, whatever it holds (what the leader's
    /// compare-and-set checks).
    private(set) var wideKeyVersion: Int64?

    init(layout: SchedulerLayout) { self.layout = layout }

    mutating func apply(_ event: WatchEvent, to folder: Folder) {
        switch event {
        case .snapshot(let records):
            loaded.insert(folder)
            switch folder {
            case .jobs:
                specs = [:]
                states = [:]
                recurringJobs = []
                sortedRecurring = nil
                plannedJobs = []
                wideJobs = []
            case .runs:
                runsByKey = [:]
                runKeysByJob = [:]
                runningRunsByWorker = [:]
            case .workers:
                workers = [:]
                registrations = [:]
            case .wide:
                setWideBuckets(nil, version: nil)
            case .bucket(let bucket):
                dropBucket(bucket)
            }
            for record in records { put(record, in: folder) }
        case .put(let record):
            put(record, in: folder)
        case .delete(let key):
            switch folder {
            case .jobs: if layout.isJobKey(key, in: layout.jobs) { setJob(nil, of: key.name) }
            case .runs: setRun(nil, at: key)
            case .workers:
                if key.parent == layout.workers {
                    workers[key.name] = nil
                    registrations[key.name] = nil
                }
            case .wide:
                if key == layout.wideBuckets { setWideBuckets(nil, version: nil) }
            case .bucket(let bucket):
                dropBucket(bucket)
            }
        }
    }

    private mutating func put(_ record: Record, in folder: Folder) {
        let key = record.key
        switch folder {
        case .jobs:
            guard layout.isJobKey(key, in: layout.jobs) else { return }
            setJob((try? record.decoded(JobRecord.self)).map { ($0, record.version, record.createRevision) }, of: key.name)
        case .runs:
            // Claims are out of the watch's scope; only run records are kept.
            guard layout.isRun(key) else { return }
            setRun(record, at: key)
        case .workers:
            guard key.parent == layout.workers else { return }
            workers[key.name] = try? record.decoded(WorkerInfo.self)
            registrations[key.name] = record.createRevision
        case .wide:
            guard key == layout.wideBuckets else { return }
            setWideBuckets(try? record.decoded([String].self), version: record.version)
        case .bucket:
            put(record, in: layout.isRunOrClaim(key) ? .runs : .jobs)
        }
    }

    private mutating func setWideBuckets(_ stored: [String]?, version: Int64?) {
        storedWideBuckets = stored
        wideKeyVersion = version
        // A name that is no bucket (written by hand) would be a key no watch can take: the list
        // counts as absent, and every bucket is watched.
        wideBuckets = stored.flatMap { names in names.allSatisfy(SchedulerLayout.isBucketName) ? Set(names) : nil }
    }

    /// Forgets the jobs and runs of one bucket.
    private mutating func dropBucket(_ bucket: String) {
        for job in specs.keys where SchedulerLayout.bucket(of: job) == bucket { setJob(nil, of: job) }
        guard let folder = try? layout.jobs.child(bucket) else { return }
        for key in runsByKey.keys where key.isUnder(folder) { setRun(nil, at: key) }
    }

    /// The buckets of the wide jobs in the view (``BucketShare/isWide(_:)``), sorted.
    var bucketsOfWideJobs: [String] {
        Set(wideJobs.lazy.map(SchedulerLayout.bucket(of:))).sorted()
    }

    private mutating func setJob(_ stored: (record: JobRecord, version: Int64, createRevision: Int64)?, of job: String) {
        let spec = stored?.record.spec
        let priorityChanged = specs[job]?.priority != spec?.priority
        specs[job] = spec
        states[job] = stored.map { ($0.record.state, $0.version) }
        creations[job] = stored?.createRevision
        let recurringChanged =
            spec?.schedule.isRecurring == true ? recurringJobs.insert(job).inserted : recurringJobs.remove(job) != nil
        if recurringChanged || (priorityChanged && spec?.schedule.isRecurring == true) { sortedRecurring = nil }
        if spec?.placement.isPlanned == true { plannedJobs.insert(job) } else { plannedJobs.remove(job) }
        if let spec, BucketShare.isWide(spec) { wideJobs.insert(job) } else { wideJobs.remove(job) }
    }

    private mutating func setRun(_ record: Record?, at key: Key) {
        // R/jobs/<b>/<job>/<run>: the job is the key's parent's name.
        guard let job = key.parent?.name else { return }
        let value = record.flatMap { try? $0.decoded(RunRecord.self) }
        let old: (record: Record, value: RunRecord?)?
        if let record {
            old = runsByKey.updateValue((record, value), forKey: key)
            if old == nil { runKeysByJob[job, default: []].insert(key) }
        } else {
            old = runsByKey.removeValue(forKey: key)
            if old != nil {
                runKeysByJob[job]?.remove(key)
                if runKeysByJob[job]?.isEmpty == true { runKeysByJob[job] = nil }
            }
        }
        let (before, after) = (old?.value?.runningWorker, value?.runningWorker)
        guard before != after else { return }
        if let before {
            runningRunsByWorker[before]?.remove(key)
            if runningRunsByWorker[before]?.isEmpty == true { runningRunsByWorker[before] = nil }
        }
        if let after { runningRunsByWorker[after, default: []].insert(key) }
    }

    /// How many runs each worker is running, by the run records.
    var runningByWorker: [String: Int] { runningRunsByWorker.mapValues(\.count) }

    /// The jobs of the runs `worker` is running, by the run records.
    func jobs(runningOn worker: String) -> Set<String> {
        Set(runningRunsByWorker[worker]?.compactMap { $0.parent?.name } ?? [])
    }

    /// Free run slots of the live workers other than `worker`, as far as the view knows.
    func freeSlots(besides worker: String) -> Int {
        var free = 0
        for (id, info) in workers where id != worker && !info.draining {
            free += max(0, info.capacity - (runningRunsByWorker[id]?.count ?? 0))
        }
        return free
    }

    /// Whether a run is held by a live claim, as far as the view can tell without seeing claims:
    /// it is running, and its worker is a member with the registration the claim recorded. A
    /// running record without a registration counts as not held: a takeover is tried, and fails
    /// harmlessly while a claim lives.
    func isHeld(_ run: RunRecord) -> Bool {
        guard run.status == .running, let worker = run.worker, let registration = run.registration else { return false }
        return registrations[worker] == registration
    }

    /// The running runs no live claim holds, as far as the view can tell (``isHeld(_:)``): their
    /// worker's session ended. Only the running runs are looked at, not every active one.
    func abandonedRuns() -> [ViewRun] {
        runningRunsByWorker.values.flatMap { keys in keys.compactMap(run(at:)).filter { !isHeld($0.record) } }
    }

    /// A member's registration (its key's `createRevision`), as the view has it.
    func registration(of worker: String) -> Int64? { registrations[worker] }

    /// Ids of recurring jobs (``urgentFirst(_:specs:)``: the fire times the leader places first
    /// get the freest workers), and of jobs with planned placement.
    mutating func jobsNeedingTheLeader() -> (recurring: [String], planned: Set<String>) {
        if sortedRecurring == nil { sortedRecurring = Self.urgentFirst(recurringJobs, specs: specs) }
        return (sortedRecurring ?? [], plannedJobs)
    }

    /// `jobs` by priority, highest first, then by id.
    static func urgentFirst(_ jobs: some Collection<String>, specs: [String: JobSpec]) -> [String] {
        jobs.map { ($0, specs[$0]?.priority ?? 0) }.sorted { $0.1 != $1.1 ? $0.1 > $1.1 : $0.0 < $1.0 }.map(\.0)
    }

    /// The jobs that have active runs.
    var jobsWithRuns: Dictionary<String, Set<Key>>.Keys { runKeysByJob.keys }

    /// The job's state and its record's version; `nil` when unknown or not a valid job record.
    func state(of job: String) -> (state: JobState, version: Int64)? { states[job] }

    /// The job's record as one creation at one version: equal only for the same record of the
    /// same job, not for a job removed and added again under its id (whose version starts over).
    func revisionOfRecord(of job: String) -> JobRecordRevision? {
        guard let version = states[job]?.version, let creation = creations[job] else { return nil }
        return JobRecordRevision(createRevision: creation, version: version)
    }

    /// The active run at `key`; `nil` when unknown or not a valid run record.
    func run(at key: Key) -> ViewRun? {
        guard let stored = runsByKey[key], let value = stored.value else { return nil }
        return ViewRun(key: key, record: value, version: stored.record.version, modRevision: stored.record.modRevision)
    }

    /// The modRevision of the active run at `key` as the view has it (without decoding it); `nil`
    /// when the view has no such run.
    func modRevision(ofRun key: Key) -> Int64? { runsByKey[key]?.record.modRevision }

    /// The job's active runs.
    func runs(ofJob job: String) -> [ViewRun] {
        guard let keys = runKeysByJob[job] else { return [] }
        return keys.compactMap(run(at:))
    }

    /// The names of the job's active runs, those whose records do not decode included.
    func runNames(ofJob job: String) -> Set<String> { Set(runKeysByJob[job]?.map(\.name) ?? []) }

    /// `true` when every active run of the job is held (``isHeld(_:)``).
    func allRunsHeld(ofJob job: String) -> Bool {
        runKeysByJob[job]?.allSatisfy { runsByKey[$0]?.value.map(isHeld) ?? false } ?? true
    }

    /// `true` once the folder's first snapshot arrived.
    func hasSnapshot(of folder: Folder) -> Bool { loaded.contains(folder) }

    func isMember(_ worker: String) -> Bool { workers[worker] != nil }

    /// Follows every folder, every job included, delivering each event to `deliver` until
    /// cancelled or the store fails.
    static func follow(
        store: any CoordinationStore, layout: SchedulerLayout,
        deliver: @escaping @Sendable (Folder, WatchEvent) -> Void
    ) async throws {
        try await withThrowingTaskGroup(of: Void.self) { group in
            // Jobs are two levels (buckets, then records), with their runs a third level (and the
            // runs' claims a fourth, left out).
            group.addTask {
                for try await event in store.watch(layout.jobs, scope: .greatGrandchildren) {
                    split(event, layout: layout, into: deliver)
                }
            }
            group.addTask { try await followMembersAndWideBuckets(store: store, layout: layout, deliver: deliver) }
            try await group.waitForAll()
        }
    }

    /// Hands an event of the `R/jobs` watch on as events of the `jobs` and `runs` folders (a
    /// snapshot as a snapshot of each), without allocating for a put or a delete: this runs for
    /// every event of every worker.
    static func split(_ event: WatchEvent, layout: SchedulerLayout, into deliver: (Folder, WatchEvent) -> Void) {
        switch event {
        case .snapshot(let records):
            deliver(.jobs, .snapshot(records.filter { !layout.isRunOrClaim($0.key) }))
            deliver(.runs, .snapshot(records.filter { layout.isRunOrClaim($0.key) }))
        case .put(let record):
            deliver(layout.isRunOrClaim(record.key) ? .runs : .jobs, event)
        case .delete(let key):
            deliver(layout.isRunOrClaim(key) ? .runs : .jobs, event)
        }
    }
}

/// One active run as seen in a view.
struct ViewRun: Sendable, Hashable {
    let key: Key
    let record: RunRecord
    let version: Int64
    let modRevision: Int64

    /// The running attempt's token, as the record tells it (``RunRecord/attemptToken(version:modRevision:)``).
    var claimToken: Int64? { record.attemptToken(version: version, modRevision: modRevision) }
}
