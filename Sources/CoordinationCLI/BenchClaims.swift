import Coordination
import CoordinationScheduler
import Foundation
import Logging
import Synchronization

/// The scheduler's claims per second: `jobs` no-op one-shot jobs run by `workers` in-process
/// workers (four by default), each on a handle of its own, timed from the first submission until
/// every job's handler has run. Then, untimed, the history must come to hold a success for every job: nothing lost, and
/// no job ran twice (a second call of a job's handler fails the bench).
///
/// The history used to be followed by a watch during the timed part. On ZooKeeper that watch
/// alone cost about five reads per job (of some 55), work of the bench's, not of the scheduler's.
///
/// A warm-up of `warmUp` jobs runs first, untimed: a ZooKeeper server's JVM runs its hot paths
/// interpreted at first, and the first 3,000 jobs after a server start ran at 60-70% of the speed
/// of the next (676-774/s against 1,034-1,151/s, four runs in a row).
///
/// Workers have the default configuration (capacity 4), as `coord worker` would, unless the
/// capacity is set. Each job is watched by the leader and by the owner of its bucket
/// (``BucketShare``), so the same slots as fewer workers mostly save the claim races. Four clients
/// each submit a quarter of the jobs as one list (`Scheduler.submit(_ specs: [JobSpec])`, 16 jobs
/// per transaction), as a program submitting many jobs would: with one transaction per job the
/// submissions, not the claims, were the bound on etcd.
///
/// What bounds the figure is the store work per claim: on ZooKeeper, the watches of the leader and
/// of the job's bucket owner re-read every new or changed znode (one-shot watches); on etcd, each
/// claim is two store transactions (a worker's claims and run endings of different jobs share txn
/// requests when they meet, a group commit) going through the JSON gateway, and every change
/// reaches the watches of those two workers through it.
struct BenchClaims: Sendable {
    let jobs: Int
    let workers: Int
    /// Each worker's capacity (its default is 4).
    let capacity: Int
    /// Jobs run before the timed ones, untimed.
    var warmUp = 0
    /// How long the jobs may take to run (the warm-up's and the timed ones' each), before the bench
    /// gives up; `nil` for a minute and 50ms a job, far beyond what a working scheduler needs.
    var timeLimit: Duration?
    /// Opens one more handle on the bench namespace.
    let open: @Sendable () async throws -> any CoordinationStore
    let logger: Logger

    struct Result: Sendable {
        var claimsPerSecond: Double
        var elapsed: Duration
        /// How long the submissions alone took (part of `elapsed`): tells submitting from claiming.
        var submitting: Duration
        /// Successes by worker id: shows a worker that sat idle.
        var perWorker: [String: Int]
        /// Claim transactions the workers lost (``Worker/claimsLost``): contention, or waste.
        var claimsLost: Int
    }

    func run() async throws -> Result {
        let layout = SchedulerLayout()
        var handles: [any CoordinationStore] = []
        var running: [(Worker, Task<Void, any Error>)] = []
        let ran = HandlerTally(expected: jobs)
        let noop: JobHandler = { context in
            ran.note(context.job)
            return RunOutput()
        }
        let warmed = HandlerTally(expected: warmUp)
        let warm: JobHandler = { context in
            warmed.note(context.job)
            return RunOutput()
        }
        do {
            for index in 0..<workers {
                let store = try await open()
                handles.append(store)
                let worker = try Worker(
                    store: store, layout: layout, id: "bench-\(index)", configuration: Worker.Configuration(capacity: capacity),
                    handlers: ["noop": noop, "warm": warm], logger: logger)
                running.append((worker, Task { try await worker.run() }))
            }
            let clientStore = try await open()
            handles.append(clientStore)
            let scheduler = Scheduler(store: clientStore, layout: layout, logger: logger)
            // Not timed: all workers registered before the first job is submitted.
            while try await scheduler.workers().count < workers {
                try await Task.sleep(for: .milliseconds(20))
            }
            // Not a timed check either: only a bound so that a stuck scheduler ends the bench with an error.
            let limit = timeLimit ?? Duration.seconds(60) + .milliseconds(50 * (jobs + warmUp))
            if warmUp > 0 {
                try await scheduler.submit((0..<warmUp).map { JobSpec(id: "warm-\($0)", handler: "warm") })
                // Until their ends have landed too: none of the warm-up's writes may fall in the timed part.
                guard try await Self.within(limit, { try await warmed.allRan() }) != nil,
                    try await Self.within(limit, { try await Self.waitForSuccesses(warmUp, of: "warm-", store: clientStore, layout: layout) }) != nil
                else {
                    throw BenchFailure(
                        "\(warmed.count) of \(warmUp) warm-up jobs had run after \(DurationText.format(limit)), the bench's limit; "
                            + Self.tooSlow)
                }
            }
            let lostInWarmUp = running.reduce(0) { $0 + $1.0.claimsLost }
            let clock = ContinuousClock()
            let start = clock.now
            // Four submitters, as several clients would submit, each submitting its share in
            // batches (several jobs per transaction).
            try await withThrowingTaskGroup(of: Void.self) { group in
                for chunk in 0..<4 {
                    group.addTask {
                        try await scheduler.submit(stride(from: chunk, to: jobs, by: 4).map { JobSpec(id: "noop-\($0)", handler: "noop") })
                    }
                }
                try await group.waitForAll()
            }
            let submitting = clock.now - start
            guard try await Self.within(limit, { try await ran.allRan() }) != nil else {
                throw BenchFailure("\(ran.count) of \(jobs) no-op jobs had run after \(DurationText.format(limit)), the bench's limit; " + Self.tooSlow)
            }
            let elapsed = clock.now - start
            guard
                let perWorker = try await Self.within(limit, { try await Self.waitForSuccesses(jobs, of: "noop-", store: clientStore, layout: layout) })
            else {
                throw BenchFailure(
                    "every no-op job ran, but the history did not show \(jobs) successes after \(DurationText.format(limit)), the bench's limit; "
                        + Self.tooSlow)
            }
            await stop(running, handles)
            let claimsLost = running.reduce(0) { $0 + $1.0.claimsLost } - lostInWarmUp
            let shares = perWorker.sorted { $0.key < $1.key }.map { "\($0.key)=\($0.value)" }.joined(separator: " ")
            logger.notice("claims by worker: \(shares)")
            return Result(
                claimsPerSecond: elapsed.seconds > 0 ? Double(jobs) / elapsed.seconds : 0, elapsed: elapsed,
                submitting: submitting, perWorker: perWorker, claimsLost: claimsLost)
        } catch {
            await stop(running, handles)
            throw error
        }
    }

    /// The end of a time limit's message (``BenchFailure``): what it may mean, and what to do.
    static let tooSlow =
        "it allows a minute and 50ms a job, so the scheduler on this store is that slow, or stuck: give fewer --claims "
        + "and --claim-warm-up, and see coord's log (--log-level info) for what held it up"

    /// `body`'s result, or `nil` when it takes longer than `limit` (then it is cancelled).
    private static func within<T: Sendable>(_ limit: Duration, _ body: @escaping @Sendable () async throws -> T) async throws -> T? {
        try await withThrowingTaskGroup(of: T?.self) { group in
            group.addTask { try await body() }
            group.addTask { try await Task.sleep(for: limit); return nil }
            defer { group.cancelAll() }
            return try await group.next() ?? nil
        }
    }

    private func stop(_ running: [(Worker, Task<Void, any Error>)], _ handles: [any CoordinationStore]) async {
        for (_, task) in running { task.cancel() }
        for (_, task) in running { _ = try? await task.value }
        for handle in handles { await handle.close() }
    }

    /// Follows the history folder (a subtree watch: a snapshot, then changes) until `count`
    /// distinct history entries of jobs whose ids start with `prefix` record a success; returns
    /// how many each worker ran.
    private static func waitForSuccesses(_ count: Int, of prefix: String, store: any CoordinationStore, layout: SchedulerLayout) async throws
        -> [String: Int]
    {
        let folder = layout.history
        let decoder = JSONDecoder()
        decoder.dateDecodingStrategy = .millisecondsSince1970
        var succeeded: [Key: String] = [:]
        func note(_ record: Record) {
            guard layout.isHistoryEntry(record.key), succeeded[record.key] == nil,
                let entry = try? decoder.decode(HistoryEntry.self, from: Data(record.value)),
                entry.outcome == .succeeded, entry.job.hasPrefix(prefix)
            else { return }
            succeeded[record.key] = entry.worker ?? "?"
        }
        for try await event in store.watch(folder, scope: .subtree) {
            switch event {
            case .snapshot(let records):
                succeeded = [:]
                records.forEach(note)
            case .put(let record):
                note(record)
            case .delete:
                break  // bounded history trims old entries; a success once seen still counts
            }
            if succeeded.count >= count {
                var perWorker: [String: Int] = [:]
                for worker in succeeded.values { perWorker[worker, default: 0] += 1 }
                return perWorker
            }
        }
        throw CoordinationError(.unavailable, "the history watch ended before \(count) successes")
    }
}


/// Which jobs' handlers have run, and a wait for all of them.
final class HandlerTally: Sendable {
    private struct State {
        var ran: Set<String> = []
        var twice: String?
    }
    private let expected: Int
    private let state = Mutex(State())
    private let changes: AsyncStream<Void>
    private let change: AsyncStream<Void>.Continuation

    init(expected: Int) {
        self.expected = expected
        (changes, change) = AsyncStream.makeStream(bufferingPolicy: .bufferingNewest(1))
    }

    var count: Int { state.withLock { $0.ran.count } }

    /// Records that `job`'s handler ran.
    func note(_ job: String) {
        let wake = state.withLock { state in
            if !state.ran.insert(job).inserted { state.twice = state.twice ?? job }
            return state.ran.count == expected || state.twice != nil
        }
        if wake { change.yield() }
    }

    /// Returns once every expected job's handler has run; throws if one ran twice.
    func allRan() async throws {
        var wakes = changes.makeAsyncIterator()
        while true {
            let (count, twice) = state.withLock { ($0.ran.count, $0.twice) }
            if let twice { throw BenchFailure("the handler of job \(twice) ran twice") }
            if count >= expected { return }
            guard await wakes.next() != nil else { throw CancellationError() }
            try Task.checkCancellation()
        }
    }
}
