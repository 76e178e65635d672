import Coordination
import Foundation

/// What a worker or the leader knows of the scheduler's state, kept current by watches (a fresh
/// snapshot after lost continuity simply replaces that folder's view).
///
/// Job records (spec and state) are decoded as they arrive (the leader needs every job's kind, and
/// they change only on submission and state changes); runs only when first looked at
/// (``LazyValue``), since most of their versions never are.
struct SchedulerView: Sendable {
    /// What the view is made of. `jobs` and `runs` come from one watch of `R/jobs` (runs and
    /// their claims live beneath their jobs), split by depth; `jobs` carries the jobs' states
    /// (``JobRecord``), `runs` the claims.
    enum Folder: Sendable, CaseIterable {
        case jobs, runs, workers
    }

    let layout: SchedulerLayout
    /// Which folders have delivered their first snapshot.
    private var loaded: Set<Folder> = []
    /// Decoded once per change (not per look): records that fail to decode are left out.
    private(set) var specs: [String: JobSpec] = [:]
    /// The jobs the leader has work for (recurring or planned), kept per change of one job rather
    /// than filtered from every job: the leader plans after every burst of events, and most jobs
    /// are one-shot and compete.
    private var recurringJobs: Set<String> = [] {
        didSet { if recurringJobs != oldValue { sortedRecurring = nil } }
    }
    private var sortedRecurring: [String]?
    private var plannedJobs: Set<String> = []
    /// Each job's state with its record's version (what a compare-and-set of the state checks).
    private var states: [String: (state: JobState, version: Int64)] = [:]
    private var runsByKey: [Key: LazyValue<RunRecord>] = [:]
    /// The keys of each job's active runs: a worker re-evaluates one job's runs per change.
    private var runKeysByJob: [String: Set<Key>] = [:]
    /// How many runs each worker is running, by the claims (a claim holds its worker's id), for
    /// the load-aware delay and least-loaded placement.
    private(set) var runningByWorker: [String: Int] = [:]
    /// Claims by the key of the run they claim (mapped once, when the claim is seen).
    private var claims: [Key: Record] = [:]
    private(set) var workers: [String: WorkerInfo] = [:]

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
                plannedJobs = []
            case .runs:
                runsByKey = [:]
                runKeysByJob = [:]
                runningByWorker = [:]
                claims = [:]
            case .workers: workers = [:]
            }
            for record in records { put(record, in: folder) }
        case .put(let record):
            put(record, in: folder)
        case .delete(let key):
            switch folder {
            case .jobs: if layout.isJobKey(key, in: layout.jobs) { setJob(nil, of: key.name) }
            case .runs:
                if let run = layout.run(ofClaim: key) {
                    setClaim(nil, of: run)
                } else {
                    setRun(nil, at: key)
                    setClaim(nil, of: key)
                }
            case .workers: if key.parent == layout.workers { workers[key.name] = nil }
            }
        }
    }

    private mutating func put(_ record: Record, in folder: Folder) {
        let key = record.key
        switch folder {
        case .jobs:
            guard layout.isJobKey(key, in: layout.jobs) else { return }
            setJob((try? record.decoded(JobRecord.self)).map { ($0, record.version) }, of: key.name)
        case .runs:
            if let run = layout.run(ofClaim: key) {
                setClaim(record, of: run)
                return
            }
            guard layout.isRun(key) else { return }
            setRun(LazyValue(record), at: key)
        case .workers:
            guard key.parent == layout.workers else { return }
            workers[key.name] = try? record.decoded(WorkerInfo.self)
        }
    }

    private mutating func setJob(_ stored: (record: JobRecord, version: Int64)?, of job: String) {
        let spec = stored?.record.spec
        specs[job] = spec
        states[job] = stored.map { ($0.record.state, $0.version) }
        if spec?.schedule.isRecurring == true { recurringJobs.insert(job) } else { recurringJobs.remove(job) }
        if spec?.placement.isPlanned == true { plannedJobs.insert(job) } else { plannedJobs.remove(job) }
    }

    private mutating func setRun(_ run: LazyValue<RunRecord>?, at key: Key) {
        // R/jobs/<b>/<job>/<run>: the job is the key's parent's name.
        guard let job = key.parent?.name else { return }
        if let run {
            if runsByKey.updateValue(run, forKey: key) == nil { runKeysByJob[job, default: []].insert(key) }
        } else if runsByKey.removeValue(forKey: key) != nil {
            runKeysByJob[job]?.remove(key)
            if runKeysByJob[job]?.isEmpty == true { runKeysByJob[job] = nil }
        }
    }

    private mutating func setClaim(_ claim: Record?, of run: Key) {
        let old = claim.map { claims.updateValue($0, forKey: run) } ?? claims.removeValue(forKey: run)
        if let old {
            let worker = String(decoding: old.value, as: UTF8.self)
            runningByWorker[worker, default: 0] -= 1
            if runningByWorker[worker] == 0 { runningByWorker[worker] = nil }
        }
        if let claim { runningByWorker[String(decoding: claim.value, as: UTF8.self), default: 0] += 1 }
    }

    /// Free run slots of the live workers other than `worker`, as far as the view knows.
    func freeSlots(besides worker: String) -> Int {
        var free = 0
        for (id, info) in workers where id != worker {
            free += max(0, info.capacity - (runningByWorker[id] ?? 0))
        }
        return free
    }

    /// Ids of recurring jobs (sorted), and of jobs with planned placement.
    mutating func jobsNeedingTheLeader() -> (recurring: [String], planned: Set<String>) {
        if sortedRecurring == nil { sortedRecurring = recurringJobs.sorted() }
        return (sortedRecurring ?? [], plannedJobs)
    }

    /// The jobs that have active runs.
    var jobsWithRuns: Dictionary<String, Set<Key>>.Keys { runKeysByJob.keys }

    /// The job's state and its record's version; `nil` when unknown or not a valid job record.
    func state(of job: String) -> (state: JobState, version: Int64)? { states[job] }

    /// The active run at `key`; `nil` when unknown or not a valid run record.
    func run(at key: Key) -> ViewRun? {
        guard let lazy = runsByKey[key], let record = lazy.value else { return nil }
        return ViewRun(key: key, record: record, version: lazy.record.version, modRevision: lazy.record.modRevision)
    }

    /// The modRevision of the active run at `key` as the view has it (without decoding it); `nil`
    /// when the view has no such run.
    func modRevision(ofRun key: Key) -> Int64? { runsByKey[key]?.record.modRevision }

    /// The job's active runs.
    func runs(ofJob job: String) -> [ViewRun] {
        guard let keys = runKeysByJob[job] else { return [] }
        return keys.compactMap(run(at:))
    }

    /// `true` when every active run of the job is claimed (no need to read their records).
    func allRunsClaimed(ofJob job: String) -> Bool {
        runKeysByJob[job]?.allSatisfy { claims[$0] != nil } ?? true
    }

    /// `true` once the folder's first snapshot arrived.
    func hasSnapshot(of folder: Folder) -> Bool { loaded.contains(folder) }

    /// The claim of the run at `runKey`, if it is claimed.
    func claim(ofRun runKey: Key) -> Record? { claims[runKey] }

    func isMember(_ worker: String) -> Bool { workers[worker] != nil }

    /// Follows every folder, delivering each event to `deliver` until cancelled or the store fails.
    static func follow(
        store: any CoordinationStore, layout: SchedulerLayout,
        deliver: @escaping @Sendable (Folder, WatchEvent) -> Void
    ) async throws {
        try await withThrowingTaskGroup(of: Void.self) { group in
            // Workers are one level of records; jobs two (buckets, then records), with their runs
            // a third level and the runs' claims a fourth.
            group.addTask {
                for try await event in store.watch(layout.jobs, scope: .subtree) {
                    split(event, layout: layout, into: deliver)
                }
            }
            group.addTask {
                for try await event in store.watch(layout.workers, scope: .children) { deliver(.workers, event) }
            }
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

    /// The running attempt's token, when the record is still as its claim wrote it.
    var claimToken: Int64? { record.status == .running && record.claimVersion == version ? modRevision : nil }
}
