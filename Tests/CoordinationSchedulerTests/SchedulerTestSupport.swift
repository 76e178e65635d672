import Coordination
import CoordinationMemory
import CoordinationRecipes
import CoordinationScheduler
import CoordinationTestSupport
import CoreMetrics
import Foundation
import Logging
import Synchronization
import Testing

/// The stores scheduler tests run on: the shared test backends, plus a way to cut one handle off
/// from its server, which only the embedded store can do without disturbing other handles.
struct SchedulerBackend: Sendable, CustomTestStringConvertible {
    let base: TestBackend
    /// Cuts a handle off from the server (its session is suspended, then expires after its TTL).
    let suspend: (@Sendable (any CoordinationStore) async throws -> Void)?
    /// Brings a cut-off handle's contact back: `reconnected`, or `expired` then `connected` on a
    /// new session if the server ended its session meanwhile (it learns of that only now).
    let heal: (@Sendable (any CoordinationStore) async throws -> Void)?

    var name: String { base.name }
    var testDescription: String { base.name }

    func open(_ namespace: Key, ttl: Duration = .seconds(2)) async throws -> any CoordinationStore { try await base.open(namespace, ttl) }
    func expire(_ store: any CoordinationStore) async throws { try await base.expire(store) }

    static let all: [SchedulerBackend] = [memory, zookeeper, etcd]

    static let memory = SchedulerBackend(
        base: .memory, suspend: { store in (store as! MemoryStore).simulateDisconnect() },
        heal: { store in (store as! MemoryStore).simulateReconnect() })
    static let zookeeper = SchedulerBackend(base: .zookeeper, suspend: nil, heal: nil)
    static let etcd = SchedulerBackend(base: .etcd, suspend: nil, heal: nil)
}

/// A scheduler deployment inside one test: workers on their own handles, a client, and cleanup.
final class TestCluster: Sendable {
    let backend: SchedulerBackend
    let namespace: Key
    let clock: WallClock
    let layout: SchedulerLayout
    /// The TTL of the handles `open()` gives by default, and so of every worker's session.
    let sessionTTL: Duration
    private let opened = Mutex<[any CoordinationStore]>([])
    private let running = Mutex<[String: (Worker, Task<Void, any Error>)]>([:])

    /// `sessionTTL` is long by default: under the whole suite's load a short session can expire
    /// on its own, and the membership change moves runs under a test that is not about failover.
    /// Tests of takeover after a silent loss pass `quickTakeover`.
    init(
        _ backend: SchedulerBackend, clock: WallClock = .system, layout: SchedulerLayout = SchedulerLayout(),
        sessionTTL: Duration = .seconds(15), test: String = #function
    ) throws {
        try backend.base.require()
        self.backend = backend
        self.clock = clock
        self.layout = layout
        self.sessionTTL = sessionTTL
        let name = String(test.prefix { $0 != "(" })
        self.namespace = try Key("/scheduler-\(name)-\(UInt32.random(in: 0...UInt32.max))")
    }

    /// The TTL for tests where a worker's session is lost without a word (a suspended handle):
    /// short, so that its runs are taken over quickly.
    static let quickTakeover = Duration.seconds(2)

    /// A handle on the test's namespace, with the cluster's session TTL unless `ttl` is given.
    func open(ttl: Duration? = nil) async throws -> any CoordinationStore {
        let store = try await backend.open(namespace, ttl: ttl ?? sessionTTL)
        opened.withLock { $0.append(store) }
        return store
    }

    func client() async throws -> Scheduler {
        Scheduler(store: try await open(), layout: layout, clock: clock)
    }

    /// Starts a worker on a handle of its own (seen through `wrapping`, for fault injection), on
    /// the cluster's clock unless given one of its own; returns it and its handle.
    @discardableResult
    func startWorker(
        _ id: String, capacity: Int = 4, labels: [String: String] = [:], gracePeriod: Duration = .seconds(5),
        finishedJobRetention: Duration? = Worker.Configuration().finishedJobRetention,
        finishedJobLimit: Int? = Worker.Configuration().finishedJobLimit,
        helpAfterIdle: Duration? = Worker.Configuration().helpAfterIdle,
        stabilisation: Duration = Worker.Configuration().stabilisation, handlers: [String: JobHandler],
        metricsFactory: any MetricsFactory = MetricsSystem.factory, clock: WallClock? = nil, logger: Logger? = nil,
        wrapping: (any CoordinationStore) -> any CoordinationStore = { $0 }
    ) async throws -> (worker: Worker, store: any CoordinationStore) {
        let store = wrapping(try await open())
        // A test's own logger (one that observes what no store operation shows), or one where
        // COORD_TEST_LOG=debug shows what the workers do when a test needs diagnosing.
        let logger = logger ?? {
            var logger = Logger(label: "test.worker")
            logger.logLevel = ProcessInfo.processInfo.environment["COORD_TEST_LOG"].flatMap(Logger.Level.init(rawValue:)) ?? .warning
            return logger
        }()
        var configuration = Worker.Configuration(
            capacity: capacity, labels: labels, gracePeriod: gracePeriod, loadDelay: .milliseconds(5),
            finishedJobRetention: finishedJobRetention, finishedJobLimit: finishedJobLimit)
        configuration.helpAfterIdle = helpAfterIdle
        configuration.stabilisation = stabilisation
        let worker = try Worker(
            store: store, layout: layout, id: id, configuration: configuration, handlers: handlers, clock: clock ?? self.clock, logger: logger,
            metricsFactory: metricsFactory)
        let task = Task { try await worker.run() }
        running.withLock { $0[id] = (worker, task) }
        return (worker, store)
    }

    /// Drains a worker (graceful shutdown) and waits for it to stop.
    func stopWorker(_ id: String) async throws {
        guard let (worker, task) = running.withLock({ $0.removeValue(forKey: id) }) else { return }
        worker.drain()
        try await withDeadline("worker \(id) to stop") { try await task.value }
    }

    func shutdown() async {
        let tasks = running.withLock { running in
            defer { running = [:] }
            return running.values.map(\.1)
        }
        for task in tasks { task.cancel() }
        for task in tasks { _ = try? await task.value }
        let stores = opened.withLock { stores in
            defer { stores = [] }
            return stores
        }
        for store in stores { await store.close() }
        await backend.base.removeNamespace(namespace)
    }

    /// Waits (event-driven, on a watch of the history folder) until `done` holds for the history
    /// of every job; returns that history.
    func waitForHistory(
        _ what: String, limit: Duration = .seconds(30), _ done: @escaping @Sendable ([HistoryEntry]) -> Bool
    ) async throws -> [HistoryEntry] {
        let store = try await open()
        let folder = layout.history
        let seen = Shared<[HistoryEntry]>([])
        do {
            return try await historyWatch(what, limit: limit, store: store, folder: folder, seen: seen, done)
        } catch let error as CoordinationError where error.code == .timeout {
            // Say where the scheduler stands, so that a stuck run can be told from a slow one.
            var state: [String] = []
            let client = Scheduler(store: store, layout: layout, logger: Logger(label: "test.diagnosis"))
            let jobs: [JobRecord]
            do { jobs = try await client.jobs() } catch {
                jobs = []
                state.append("(could not list the jobs: \(error))")
            }
            for job in jobs {
                for run in (try? await client.activeRuns(of: job.spec.id)) ?? [] {
                    // Whether a claim holds the run tells a run nobody works on under a live claim
                    // from an abandoned one that no worker picks up.
                    let claimKey = try? layout.claim(job.spec.id, run.record.run)
                    let claim = claimKey == nil ? nil : try? await store.get(claimKey!)
                    let held = claim.map { "claimed by \(String(decoding: $0.value, as: UTF8.self)) at \($0.createRevision)" } ?? "no claim"
                    state.append("\(job.spec.id)/\(run.record.run) \(run.record.status) on \(run.record.worker ?? "-") (\(held))")
                }
            }
            let history = seen.value.map { "\($0.job) \($0.outcome)" }
            var diagnosed = error
            diagnosed.message += "; active runs: \(state.isEmpty ? "none" : state.joined(separator: ", "))"
                + "; history: \(history.isEmpty ? "empty" : history.joined(separator: ", "))"
            throw diagnosed
        }
    }

    private func historyWatch(
        _ what: String, limit: Duration, store: any CoordinationStore, folder: Key, seen: Shared<[HistoryEntry]>,
        _ done: @escaping @Sendable ([HistoryEntry]) -> Bool
    ) async throws -> [HistoryEntry] {
        try await withDeadline(what, limit: limit) {
            // Decoded once per change, kept in store order: watch events come in store order and
            // sequential keys grow in creation order, so only a snapshot needs sorting.
            var entries: [(key: Key, entry: HistoryEntry)] = []
            let decoder = JSONDecoder()
            decoder.dateDecodingStrategy = .millisecondsSince1970
            func decode(_ record: Record) -> (key: Key, entry: HistoryEntry)? {
                guard self.layout.isHistoryEntry(record.key),
                    let entry = try? decoder.decode(HistoryEntry.self, from: Data(record.value))
                else { return nil }
                return (record.key, entry)
            }
            for try await event in store.watch(folder, scope: .subtree) {
                switch event {
                case .snapshot(let records):
                    entries = records.sorted { $0.modRevision < $1.modRevision }.compactMap(decode)
                case .put(let record):
                    if let decoded = decode(record) { entries.append(decoded) }
                case .delete(let key):
                    entries.removeAll { $0.key == key }
                }
                let ordered = entries.map(\.entry)
                seen.withLock { $0 = ordered }
                if done(ordered) { return ordered }
            }
            throw CoordinationError(.unavailable, "history watch ended")
        }
    }

    /// Waits (on a membership watch) until `count` workers are live.
    /// Cuts worker `id`'s handle `store` off until the server has ended its session (the worker's
    /// member key, one of the session's ephemeral keys, is gone), then brings contact back, as a
    /// network that heals after the TTL: the handle learns of the expiry only then and starts a
    /// new session, as a ZooKeeper or etcd client does. Returns once contact is back.
    func cutOffPastItsSession(worker id: String, store: any CoordinationStore) async throws {
        guard let suspend = backend.suspend, let heal = backend.heal else {
            throw CoordinationError(.unsupported, "\(backend.name) cannot cut one handle off")
        }
        let watch = try await open().watch(try layout.worker(id), scope: .key)
        try await withDeadline("worker \(id)'s session to end on the server", limit: .seconds(60)) {
            var events = watch.makeAsyncIterator()
            guard case .snapshot(let records) = try await events.next(), let registration = records.first else {
                throw CoordinationError(.noNode, "worker \(id) is not registered")
            }
            try await suspend(store)
            while let event = try await events.next() {
                switch event {
                case .delete: return
                case .snapshot(let records) where !records.contains(where: { $0.createRevision == registration.createRevision }): return
                default: continue
                }
            }
            throw CoordinationError(.unavailable, "the watch of worker \(id)'s registration ended")
        }
        try await heal(store)
    }

    func waitForWorkers(_ count: Int) async throws {
        let membership = Membership(store: try await open(), group: layout.workers)
        try await withDeadline("\(count) workers") {
            for try await members in membership.watch() where members.count >= count { return }
        }
    }

    /// Waits (on a watch of the job's key, whose record holds its state) until the job's state satisfies `done`.
    func waitForState(of job: String, _ what: String, _ done: @escaping @Sendable (JobState) -> Bool) async throws -> JobState {
        let store = try await open()
        let key = try layout.job(job)
        return try await withDeadline(what) {
            let decoder = JSONDecoder()
            decoder.dateDecodingStrategy = .millisecondsSince1970
            for try await event in store.watch(key) {
                var records: [Key: Record] = [:]
                records.apply(event)
                if let record = records[key], let state = try? decoder.decode(JobRecord.self, from: Data(record.value)).state,
                    done(state)
                {
                    return state
                }
            }
            throw CoordinationError(.unavailable, "state watch ended")
        }
    }

    /// Waits until the job's active runs satisfy `done`.
    func waitForRuns(
        of job: String, _ what: String, _ done: @escaping @Sendable ([RunRecord]) -> Bool
    ) async throws -> [RunRecord] {
        let store = try await open()
        let folder = try layout.runs(of: job)
        let seen = Shared<[String]>([])
        let layout = layout
        do {
            return try await withDeadline(what) {
                var records: [Key: Record] = [:]
                let decoder = JSONDecoder()
                decoder.dateDecodingStrategy = .millisecondsSince1970
                for try await event in store.watch(folder, scope: .subtree) {
                    records.apply(event)
                    let runs = records.values.filter { $0.key.parent == folder }.sorted { $0.key < $1.key }
                        .compactMap { try? decoder.decode(RunRecord.self, from: Data($0.value)) }
                    // What the runs were last seen as, claims included, for a timeout's message.
                    let claimed = Set(records.keys.compactMap { layout.run(ofClaim: $0)?.name })
                    seen.withLock {
                        $0 = runs.map { "\($0.run) \($0.status) on \($0.worker ?? "-")\(claimed.contains($0.run) ? " (claimed)" : "")" }
                    }
                    if done(runs) { return runs }
                }
                throw CoordinationError(.unavailable, "runs watch ended")
            }
        } catch let error as CoordinationError where error.code == .timeout {
            var diagnosed = error
            diagnosed.message += "; runs of \(job) last seen: \(seen.value.isEmpty ? "none" : seen.value.joined(separator: ", "))"
            throw diagnosed
        }
    }
}


/// Mutable state shared by the tasks of one test.
final class Shared<Value: Sendable>: Sendable {
    private let mutex: Mutex<Value>
    init(_ value: Value) { mutex = Mutex(value) }
    func withLock<T: Sendable>(_ body: (inout Value) -> T) -> T { mutex.withLock { body(&$0) } }
    var value: Value { mutex.withLock { $0 } }
}

/// A one-way signal a test can wait on.
final class Signal: Sendable {
    private let broadcast = Broadcast<Bool>(false)
    func fire() { broadcast.send(true) }
    func wait() async { for await fired in broadcast.subscribe() where fired { return } }
}

/// A `waitForHistory` condition: the job has at least `count` successes.
func successes(_ job: String, _ count: Int = 1) -> @Sendable ([HistoryEntry]) -> Bool {
    { $0.filter { $0.job == job && $0.outcome == .succeeded }.count >= count }
}

/// A handler that succeeds at once, counting its calls per run.
func countingHandler(_ calls: Shared<[String: Int]>) -> JobHandler {
    { context in
        calls.withLock { $0["\(context.job)/\(context.run)", default: 0] += 1 }
        return RunOutput(message: "ok")
    }
}

/// A handler whose first call returns at once and whose later calls wait for `release`: a job
/// that finishes once, then has a run that stays running.
func firstReturnsThenWaits(for release: Signal) -> JobHandler {
    let calls = Shared(0)
    return { _ in
        if calls.withLock({ count in
            count += 1
            return count
        }) > 1 { await release.wait() }
        return RunOutput()
    }
}

/// A handler that succeeds at once, noting the attempt of each call.
func recordingAttempts(_ attempts: Shared<[Int]>) -> JobHandler {
    { context in
        attempts.withLock { $0.append(context.attempt) }
        return RunOutput(message: "done")
    }
}

/// Returns once the calling task is cancelled.
func untilCancelled() async {
    let (stream, continuation) = AsyncStream<Never>.makeStream()
    await withTaskCancellationHandler {
        for await _ in stream {}
    } onCancel: {
        continuation.finish()
    }
}
