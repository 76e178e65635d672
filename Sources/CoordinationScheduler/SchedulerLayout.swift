public import Coordination

/// Where the scheduler keeps everything, under one root `R` (default `/scheduler`), with each
/// job's keys in one of 64 buckets `<b>` (two hex digits, a stable hash of the job id):
///
/// ```
/// R/jobs/<b>/<job>                 persistent  JobRecord JSON (the JobSpec and the JobState)
/// R/jobs/<b>/<job>/<run>           persistent  RunRecord JSON (active runs only)
/// R/jobs/<b>/<job>/<run>/claim     ephemeral   the claim; its createRevision is the run's fencing token
/// R/workers/<worker>               ephemeral   WorkerInfo JSON (Membership)
/// R/history/<b>/<job>/h-…          sequential  HistoryEntry JSON, bounded per job
/// R/incarnations/<b>/<tag>-<job>   persistent  empty: exists while that incarnation of the job does
/// R/leader                         LeaderElection
/// R/wide                           ephemeral   the buckets every worker watches (BucketShare)
/// ```
///
/// A job's runs live beneath its definition, and a claim beneath its run, so one watch of `jobs`
/// down to the runs (``WatchScope/greatGrandchildren``) sees definitions and runs, and neither a
/// job nor a run can be deleted while a live claim holds one of its runs. Workers do not watch
/// the claims (``SchedulerView`` tells a held run by its worker's membership). Runs used to have a folder per job of their own (`R/runs/<b>/<job>`):
/// creating that folder cost every worker on ZooKeeper two more reads per job (about 13% of
/// ZooKeeper's requests in the claims bench) and etcd one more watch stream per worker. A job's
/// state used to have a key of its own too (`R/state/<b>/<job>`): see ``JobRecord``.
///
/// A job's incarnation key (``incarnation(of:tag:)``) fences writes of its record: see
/// ``IncarnationFence``. Nobody watches or lists its folder.
///
/// The buckets exist so that no folder holds every job: ZooKeeper's watches are one-shot, and a
/// folder is listed whole again after each change of its children, so a single folder of
/// thousands of kept jobs made every new job cost each worker a listing of all of them.
public struct SchedulerLayout: Sendable, Hashable {
    public let root: Key
    /// The most history entries kept per job; older ones are deleted by the writes that add new ones.
    public let historyLimit: Int

    public init(root: Key = Key.schedulerRoot, historyLimit: Int = 100) {
        self.root = root
        self.historyLimit = max(1, historyLimit)
    }

    public var jobs: Key { sub("jobs") }
    public var workers: Key { sub("workers") }
    public var history: Key { sub("history") }
    public var leader: Key { sub("leader") }
    /// The folder of the jobs' incarnation keys (``incarnation(of:tag:)``).
    public var incarnations: Key { sub("incarnations") }
    /// The buckets of wide jobs, which every worker watches (a JSON array of bucket names,
    /// written by the leader; see `BucketShare`). Ephemeral, so that it goes with the session of
    /// the leader that keeps it up to date (a leader of an earlier coord never would). Absent,
    /// every worker watches every bucket.
    public var wideBuckets: Key { sub("wide") }

    /// The folders every scheduler write assumes exist (transactions never create ancestors),
    /// buckets excluded.
    public var folders: [Key] { [jobs, workers, history, leader, incarnations] }
    /// The folders whose children are buckets.
    public var bucketedFolders: [Key] { [jobs, history, incarnations] }
    /// Folders only earlier bucketed layouts had: runs (`R/runs/<b>/<job>/<run>`, now beneath
    /// their jobs) and job states (`R/state/<b>/<job>`, now in the job's record). The current
    /// layout never creates them.
    var earlierFolders: [Key] { [sub("runs"), sub("state")] }

    /// How many buckets each bucketed folder has. Fixed: a job's keys are found by its bucket.
    public static let bucketCount = 64

    /// The bucket of a job's keys: the same in every process and every version.
    public static func bucket(of job: String) -> String {
        bucketNames[Int(HashRing.hash(job) % UInt64(bucketCount))]
    }

    /// Every bucket's name, in order: two hex digits.
    public static let bucketNames: [String] = (0..<bucketCount).map { index in
        let digits = Array("0123456789abcdef")
        return String([digits[index / 16], digits[index % 16]])
    }
    private static let bucketNameSet = Set(bucketNames)

    /// Whether `name` is one of the buckets' names.
    static func isBucketName(_ name: String) -> Bool { bucketNameSet.contains(name) }

    /// Whether a listing of `jobs` shows jobs of the unbucketed layout of an earlier coord:
    /// anything but buckets.
    static func isEarlierLayout(jobsListing names: some Sequence<String>) -> Bool {
        !Set(names).isSubset(of: bucketNameSet)
    }

    private func bucketed(_ folder: Key, _ job: String) throws(CoordinationError) -> Key {
        try folder.child(Self.bucket(of: job)).child(job)
    }

    public func job(_ id: String) throws(CoordinationError) -> Key { try bucketed(jobs, id) }
    /// The folder of the job's active runs: the job's own key.
    public func runs(of job: String) throws(CoordinationError) -> Key { try self.job(job) }
    public func run(_ job: String, _ run: String) throws(CoordinationError) -> Key { try runs(of: job).child(run) }
    public func claim(_ job: String, _ run: String) throws(CoordinationError) -> Key { try self.run(job, run).child(Self.claimName) }
    /// The name of a run's claim, beneath the run.
    public static let claimName = "claim"

    /// The job a key in a bucketed `folder` belongs to (`R/<folder>/<b>/<job>` or beneath it);
    /// `nil` for the folder itself, a bucket, or a key elsewhere.
    public func jobID(of key: Key, in folder: Key) -> String? {
        var jobKey = key
        var depth = key.depth
        let jobDepth = folder.depth + 2
        guard depth >= jobDepth else { return nil }
        while depth > jobDepth, let parent = jobKey.parent {
            jobKey = parent
            depth -= 1
        }
        return jobKey.isUnder(folder) ? jobKey.name : nil
    }

    /// Whether `key` is a job's own key in a bucketed `folder` (`R/<folder>/<b>/<job>`).
    public func isJobKey(_ key: Key, in folder: Key) -> Bool { key.depth == folder.depth + 2 && key.isUnder(folder) }

    /// Whether `key` is a run record's key (`R/jobs/<b>/<job>/<run>`).
    public func isRun(_ key: Key) -> Bool { key.depth == jobs.depth + 3 && key.isUnder(jobs) }

    /// Whether `key` is a run's or a claim's (beneath `R/jobs/<b>/<job>`), not a job's own key.
    public func isRunOrClaim(_ key: Key) -> Bool { key.depth > jobs.depth + 2 && key.isUnder(jobs) }

    /// Whether `key` is a history entry's key (`R/history/<b>/<job>/h-…`).
    public func isHistoryEntry(_ key: Key) -> Bool { key.depth == history.depth + 3 && key.isUnder(history) }

    /// The run a claim key claims; `nil` for any other key.
    public func run(ofClaim key: Key) -> Key? {
        guard key.name == Self.claimName, key.depth == jobs.depth + 4, key.isUnder(jobs) else { return nil }
        return key.parent
    }
    public func history(of job: String) throws(CoordinationError) -> Key { try bucketed(history, job) }
    /// The key that exists while the incarnation `tag` (``JobState/incarnation``) of `job` does:
    /// `R/incarnations/<b>/<tag>-<job>`. The tag goes first: it has a fixed length, so the name
    /// splits one way whatever the job's id holds.
    public func incarnation(of job: String, tag: String) throws(CoordinationError) -> Key {
        try incarnations.child(Self.bucket(of: job)).child("\(tag)-\(job)")
    }
    /// The prefix of a new sequential history entry.
    public func newHistoryEntry(of job: String) throws(CoordinationError) -> Key { try history(of: job).child("h-") }
    public func worker(_ id: String) throws(CoordinationError) -> Key { try workers.child(id) }

    /// Creates the folders and their buckets if missing (idempotent, safe to race; a bucket
    /// deleted by hand comes back). Refuses a root written in the layout of an earlier coord
    /// (``SchedulerError/earlierLayout(root:)``), rather than not seeing its jobs and runs.
    public func ensureFolders(in store: any CoordinationStore) async throws {
        for folder in folders where try await !store.exists(folder) {
            do { _ = try await store.create(folder, value: [], mode: .persistent) } catch let error as CoordinationError
                where error.code == .nodeExists {}
        }
        // One listing per folder: as cheap as asking for one bucket, and it sees them all.
        for folder in bucketedFolders {
            let present = Set(try await store.children(of: folder))
            if folder == jobs, try await holdsEarlierLayout(in: store, jobsListing: present) {
                throw SchedulerError.earlierLayout(root: root)
            }
            let missing = try Self.bucketNames.filter { !present.contains($0) }.map { name throws(CoordinationError) in
                try folder.child(name)
            }
            if missing.isEmpty { continue }
            do {
                _ = try await store.transaction(missing.map { .create($0, value: [], mode: .persistent) })
            } catch let error as CoordinationError where error.code == .nodeExists {
                // Another process is creating them too: one by one.
                for bucket in missing {
                    do { _ = try await store.create(bucket, value: [], mode: .persistent) } catch let error as CoordinationError
                        where error.code == .nodeExists {}
                }
            }
        }
    }

    /// Whether the root was written in an earlier coord's layout: jobs directly under `jobs`
    /// (before the buckets), or a `runs` or `state` folder (before runs and states moved
    /// beneath and into their jobs).
    /// - Parameter jobsListing: the children of `jobs`, when the caller has them already.
    func holdsEarlierLayout(in store: any CoordinationStore, jobsListing: Set<String>? = nil) async throws -> Bool {
        var listing = jobsListing
        if listing == nil {
            do { listing = Set(try await store.children(of: jobs)) } catch let error as CoordinationError where error.code == .noNode {}
        }
        if let listing, Self.isEarlierLayout(jobsListing: listing) { return true }
        for folder in earlierFolders where try await store.exists(folder) { return true }
        return false
    }

    private func sub(_ name: String) -> Key {
        // Fixed, valid segments under a valid root.
        try! root.child(name)
    }
}

extension Key {
    /// `/scheduler`, the default scheduler root.
    public static let schedulerRoot: Key = try! Key("/scheduler")
}
