import Coordination
import Foundation

/// What a worker or the leader knows of the scheduler's state, kept current by subtree watches
/// (one per folder, each applied with `Dictionary.apply`, so a fresh snapshot after lost
/// continuity simply replaces that folder's view).
struct SchedulerView: Sendable {
    enum Folder: Sendable, CaseIterable {
        case jobs, states, runs, claims, workers
    }

    let layout: SchedulerLayout
    /// Which folders have delivered their first snapshot.
    private var loaded: Set<Folder> = []
    /// Decoded once per change (not per look): records that fail to decode are left out.
    private(set) var specs: [String: JobSpec] = [:] {
        didSet { leaderJobs = nil }
    }
    /// The jobs the leader has work for (recurring or planned), recomputed only when a job changes:
    /// the leader plans after every burst of events, and most jobs are one-shot and compete.
    private var leaderJobs: (recurring: [String], planned: Set<String>)?
    private(set) var states: [String: (state: JobState, version: Int64)] = [:]
    private var runsByKey: [Key: ViewRun] = [:]
    /// Claims by the key of the run they claim (mapped once, when the claim is seen).
    private var claims: [Key: Record] = [:]
    private(set) var workers: [String: WorkerInfo] = [:]

    init(layout: SchedulerLayout) { self.layout = layout }

    mutating func apply(_ event: WatchEvent, to folder: Folder) {
        switch event {
        case .snapshot(let records):
            loaded.insert(folder)
            switch folder {
            case .jobs: specs = [:]
            case .states: states = [:]
            case .runs: runsByKey = [:]
            case .claims: claims = [:]
            case .workers: workers = [:]
            }
            for record in records { put(record, in: folder) }
        case .put(let record):
            put(record, in: folder)
        case .delete(let key):
            switch folder {
            case .jobs: if key.parent == layout.jobs { specs[key.name] = nil }
            case .states: if key.parent == layout.states { states[key.name] = nil }
            case .runs: runsByKey[key] = nil
            case .claims: if let run = runKey(ofClaim: key) { claims[run] = nil }
            case .workers: if key.parent == layout.workers { workers[key.name] = nil }
            }
        }
    }

    private mutating func put(_ record: Record, in folder: Folder) {
        let key = record.key
        switch folder {
        case .jobs:
            guard key.parent == layout.jobs else { return }
            specs[key.name] = try? record.decoded(JobSpec.self)
        case .states:
            guard key.parent == layout.states else { return }
            states[key.name] = (try? record.decoded(JobState.self)).map { ($0, record.version) }
        case .runs:
            guard key.depth == layout.runs.depth + 2 else { return }
            runsByKey[key] = (try? record.decoded(RunRecord.self)).map { ViewRun(key: key, record: $0, version: record.version) }
        case .claims:
            guard let run = runKey(ofClaim: key) else { return }
            claims[run] = record
        case .workers:
            guard key.parent == layout.workers else { return }
            workers[key.name] = try? record.decoded(WorkerInfo.self)
        }
    }

    /// Ids of recurring jobs (sorted), and of jobs with planned placement.
    mutating func jobsNeedingTheLeader() -> (recurring: [String], planned: Set<String>) {
        if let leaderJobs { return leaderJobs }
        let recurring = specs.filter { $0.value.schedule.isRecurring }.map(\.key).sorted()
        let planned = Set(specs.filter { $0.value.placement.isPlanned }.map(\.key))
        leaderJobs = (recurring, planned)
        return (recurring, planned)
    }

    /// `true` once the folder's first snapshot arrived.
    func hasSnapshot(of folder: Folder) -> Bool { loaded.contains(folder) }

    func key(of folder: Folder) -> Key {
        switch folder {
        case .jobs: layout.jobs
        case .states: layout.states
        case .runs: layout.runs
        case .claims: layout.claims
        case .workers: layout.workers
        }
    }

    /// Active runs, with their record's version.
    var runs: [ViewRun] { Array(runsByKey.values) }

    /// The claim of the run at `runKey`, if it is claimed.
    func claim(ofRun runKey: Key) -> Record? { claims[runKey] }

    private func runKey(ofClaim key: Key) -> Key? {
        guard let relative = key.relative(to: layout.claims), relative.depth == 2 else { return nil }
        return layout.runs.appending(relative)
    }

    /// Calls `body` with every active run, without copying them out.
    func forEachRun(_ body: (ViewRun) -> Void) {
        for run in runsByKey.values { body(run) }
    }

    func isMember(_ worker: String) -> Bool { workers[worker] != nil }

    /// Follows every folder, delivering each event to `deliver` until cancelled or the store fails.
    static func follow(
        store: any CoordinationStore, layout: SchedulerLayout,
        deliver: @escaping @Sendable (Folder, WatchEvent) -> Void
    ) async throws {
        try await withThrowingTaskGroup(of: Void.self) { group in
            let view = SchedulerView(layout: layout)
            for folder in Folder.allCases {
                let key = view.key(of: folder)
                group.addTask {
                    for try await event in store.watch(key, scope: .subtree) { deliver(folder, event) }
                }
            }
            try await group.waitForAll()
        }
    }
}

/// One active run as seen in a view.
struct ViewRun: Sendable, Hashable {
    let key: Key
    let record: RunRecord
    let version: Int64
}
