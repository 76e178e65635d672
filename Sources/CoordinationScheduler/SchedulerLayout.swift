public import Coordination

/// Where the scheduler keeps everything, under one root `R` (default `/scheduler`):
///
/// ```
/// R/jobs/<job>            persistent  JobSpec JSON
/// R/state/<job>           persistent  JobState JSON
/// R/runs/<job>/<run>      persistent  RunRecord JSON (active runs only)
/// R/runs/<job>/<run>/claim  ephemeral the claim; its createRevision is the run's fencing token
/// R/workers/<worker>      ephemeral   WorkerInfo JSON (Membership)
/// R/history/<job>/h-…     sequential  HistoryEntry JSON, bounded per job
/// R/leader                LeaderElection
/// ```
///
/// A claim lives beneath its run, so one watch of `runs` sees both, and a run cannot be deleted
/// while a live claim holds it.
public struct SchedulerLayout: Sendable, Hashable {
    public let root: Key
    /// The most history entries kept per job; older ones are deleted by the writes that add new ones.
    public let historyLimit: Int

    public init(root: Key = Key.schedulerRoot, historyLimit: Int = 100) {
        self.root = root
        self.historyLimit = max(1, historyLimit)
    }

    public var jobs: Key { sub("jobs") }
    public var states: Key { sub("state") }
    public var runs: Key { sub("runs") }
    public var workers: Key { sub("workers") }
    public var history: Key { sub("history") }
    public var leader: Key { sub("leader") }

    /// The folders every scheduler write assumes exist (transactions never create ancestors).
    public var folders: [Key] { [jobs, states, runs, workers, history, leader] }

    public func job(_ id: String) throws(CoordinationError) -> Key { try jobs.child(id) }
    public func state(_ id: String) throws(CoordinationError) -> Key { try states.child(id) }
    public func runs(of job: String) throws(CoordinationError) -> Key { try runs.child(job) }
    public func run(_ job: String, _ run: String) throws(CoordinationError) -> Key { try runs.child(job).child(run) }
    public func claim(_ job: String, _ run: String) throws(CoordinationError) -> Key { try self.run(job, run).child(Self.claimName) }
    /// The name of a run's claim, beneath the run.
    public static let claimName = "claim"

    /// The run a claim key claims; `nil` for any other key.
    public func run(ofClaim key: Key) -> Key? {
        guard key.name == Self.claimName, key.depth == runs.depth + 3, key.isUnder(runs) else { return nil }
        return key.parent
    }
    public func history(of job: String) throws(CoordinationError) -> Key { try history.child(job) }
    /// The prefix of a new sequential history entry.
    public func newHistoryEntry(of job: String) throws(CoordinationError) -> Key { try history.child(job).child("h-") }
    public func worker(_ id: String) throws(CoordinationError) -> Key { try workers.child(id) }

    /// Creates the folders if missing (idempotent).
    public func ensureFolders(in store: any CoordinationStore) async throws {
        for folder in folders where try await !store.exists(folder) {
            do { _ = try await store.create(folder, value: [], mode: .persistent) } catch let error as CoordinationError
                where error.code == .nodeExists {}
        }
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
