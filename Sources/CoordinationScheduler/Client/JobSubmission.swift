import Coordination
import Foundation

/// The creations that store one new job: its record (definition and state, which its runs live
/// beneath), its history folder, its incarnation key (``IncarnationFence``) and, for a one-shot job, its runs (materialised by the
/// submitter, so it never waits for a leader).
struct JobSubmission: Sendable {
    let spec: JobSpec
    /// The job's creations, with as many of its runs as fit one transaction.
    let operations: [Coordination.Operation]
    /// How many runs it has; those past ``RunPlan/firstChunk`` follow in transactions of their own.
    let runCount: Int
    /// The workers a broadcast job's runs are for.
    let workers: [String]
    /// The tag of this incarnation of the job (``JobState/incarnation``).
    let incarnation: String

    /// How many of ``operations`` come before the runs: the job's record, its history folder and
    /// its incarnation key, each in a folder that a deployment made by an earlier version may lack.
    static let folderCount = 3

    /// - Parameters:
    ///   - workers: the eligible live workers, for a broadcast job.
    ///   - incarnation: the tag of this incarnation of the job (``JobState/incarnation``): a new
    ///     random one unless a test needs to know it.
    init(
        _ spec: JobSpec, now: Date, workers: [String], layout: SchedulerLayout, incarnation: String = JobIncarnation.random()
    ) throws {
        var state = JobState(submittedAt: now, incarnation: incarnation, fenced: true)
        var runs: [RunRecord] = []
        if case .once(let at) = spec.schedule {
            let when = at ?? now
            runs = RunPlan.runs(of: spec, scheduledAt: when, notBefore: when, broadcastTo: workers) {
                RunID.scheduled(at: when, item: $0, incarnation: incarnation, worker: $1)
            }
            state.lastMaterialized = when
            if let unfinished = RunPlan.unfinished(
                runs, run: RunID.scheduled(at: when, item: 0, incarnation: incarnation), scheduledAt: when,
                firstChunk: RunPlan.firstChunk(of: state))
            {
                state.unfinishedBroadcasts = [unfinished]
            }
        }
        self.spec = spec
        self.workers = workers
        self.incarnation = incarnation
        runCount = runs.count
        operations = [
            .create(try layout.job(spec.id), value: try JobRecord(spec: spec, state: state).encoded(), mode: .persistent),
            .create(try layout.history(of: spec.id), value: [], mode: .persistent),
        ] + (try IncarnationFence(job: spec.id, state: state, layout: layout).creations) + (try RunPlan.createOperations(Array(runs.prefix(RunPlan.firstChunk(of: state))), layout: layout))
    }

    /// Creates the runs that did not fit ``operations`` (a broadcast's to more workers than one
    /// transaction holds), once those are written.
    func createRemainingRuns(in store: any CoordinationStore, layout: SchedulerLayout) async throws {
        guard runCount > RunPlan.firstChunk(fenced: true) else { return }
        try await RunPlan.continueBroadcasts(of: spec.id, incarnation: incarnation, workers: workers, in: store, layout: layout)
    }

    /// The key and value bytes of ``operations``, which count against the store's transaction limit.
    var bytes: Int { Self.bytes(of: operations) }

    static func bytes(of operations: [Coordination.Operation]) -> Int {
        operations.reduce(0) { $0 + $1.key.path.utf8.count + ($1.value?.count ?? 0) }
    }

    // MARK: Size

    /// Room kept, in every transaction that writes a job's record, for what the scheduler adds
    /// beside the definition later: the state's bookkeeping (fire and trigger counts, the worker
    /// of each item of a planned job) and the history entries and trims written with a fire time.
    static let bookkeepingBytes = 32 * 1024

    /// Workers a broadcast job's runs are counted for (the most that go into one transaction
    /// with its record), and the length of their ids, since the real ones are not known yet.
    static let assumedBroadcastWorkers = RunPlan.firstChunk(fenced: true)
    static let assumedWorkerIDBytes = 32

    /// Why `spec` would not fit the transactions that write it (the record with its history
    /// folder and one fire time's runs, within ``CoordinationLimits/maxTransactionBytes`` less
    /// ``bookkeepingBytes``); `nil` when it fits. The record is JSON with the payload in base64,
    /// so the payload that fits is about three quarters of what is left: the message says how much.
    static func sizeProblem(of spec: JobSpec, layout: SchedulerLayout) -> String? {
        guard let stored = try? storedBytes(of: spec, layout: layout) else { return nil }
        let budget = CoordinationLimits.maxTransactionBytes - bookkeepingBytes
        guard stored.total > budget else { return nil }
        let encodedPayload = base64Length(spec.payload.count)
        let others = stored.total - encodedPayload
        // The payload is what can shrink when it is most of the record; otherwise say what else is large.
        if encodedPayload > stored.total / 2 {
            let fits = max(0, budget - others) / 4 * 3
            return "payload is \(spec.payload.count) bytes; at most \(fits) bytes fit this job: a job is stored as one JSON "
                + "record with its payload in base64 (4 bytes for every 3), and the record (here \(stored.record) bytes), its "
                + "runs and room for the scheduler's bookkeeping (\(bookkeepingBytes) bytes) must fit one transaction of "
                + "\(CoordinationLimits.maxTransactionBytes) bytes"
        }
        return "the job takes \(stored.total) bytes as stored (its record \(stored.record) bytes, with the payload in base64, "
            + "and its runs, each with its item's shard parameter); at most \(budget) fit, the rest of the store's "
            + "\(CoordinationLimits.maxTransactionBytes)-byte transaction being room for the scheduler's bookkeeping: "
            + "shorten its shard parameters, labels or payload"
    }

    /// The bytes of the job's record (at submission, written so that no `/` is escaped) and of
    /// everything one transaction writes with it: its key, its history folder, its incarnation key, and the runs of one
    /// fire time (as a one-shot job's submission creates them, and the leader each of a recurring job's).
    static func storedBytes(of spec: JobSpec, layout: SchedulerLayout) throws -> (record: Int, total: Int) {
        let now = longestDate
        let workers = spec.placement == .broadcast
            ? (0..<assumedBroadcastWorkers).map { String(repeating: "w", count: assumedWorkerIDBytes - 3) + RunID.padded(Int64($0), 3) }
            : []
        let runs = RunPlan.runs(of: spec, scheduledAt: now, notBefore: now, broadcastTo: workers) {
            RunID.scheduled(at: now, item: $0, incarnation: JobIncarnation.longest, worker: $1)
        }
        var state = JobState(submittedAt: now, incarnation: JobIncarnation.longest, fenced: true)
        state.lastMaterialized = now
        let record = try JobRecord(spec: spec, state: state).encoded().count
        let creates = try RunPlan.createOperations(Array(runs.prefix(RunPlan.firstChunk(of: state))), layout: layout)
        let keys = try layout.job(spec.id).path.utf8.count + layout.history(of: spec.id).path.utf8.count
            + layout.incarnation(of: spec.id, tag: JobIncarnation.longest).path.utf8.count
        return (record, record + keys + bytes(of: creates))
    }

    /// A time whose epoch milliseconds take as many characters in JSON as any of this era's
    /// (13 digits, a point and 4 more): a record's size then does not depend on the clock's
    /// fraction of a millisecond at submission, and the limit a message gives holds.
    static let longestDate = Date(timeIntervalSince1970: 2_000_000_000.123_456_7)

    /// The length of `count` bytes in base64, with padding.
    static func base64Length(_ count: Int) -> Int { (count + 2) / 3 * 4 }
}
