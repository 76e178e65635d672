import Coordination
import CoordinationScheduler
import Foundation
import Logging
import Synchronization

/// A history entry as the harness saw it in the store, with the revision that created it.
public struct HistorySighting: Sendable, Hashable {
    public var key: String
    public var entry: HistoryEntry
    public var createRevision: Int64

    public init(key: String, entry: HistoryEntry, createRevision: Int64) {
        self.key = key
        self.entry = entry
        self.createRevision = createRevision
    }
}

/// A version of a run record as the harness saw it, with the revision that wrote it.
public struct RunSighting: Sendable, Hashable {
    public var key: String
    public var record: RunRecord
    public var modRevision: Int64
    /// The record's version; `nil` when not known.
    public var version: Int64?

    public init(key: String, record: RunRecord, modRevision: Int64, version: Int64? = nil) {
        self.key = key
        self.record = record
        self.modRevision = modRevision
        self.version = version
    }

    /// Whether this version is a claim's write: the claim transaction marks the run running at
    /// the version it records (``RunRecord/claimVersion``); every later write moves past it.
    public var isClaim: Bool { record.status == .running && version != nil && record.claimVersion == version }
}

/// Watches the scheduler's history and runs for the whole chaos run, keeping every entry and
/// every run record version it sees. History is bounded per job (older entries are deleted),
/// so the watch, not a final read, is what proves that an entry was written.
final class StoreObserver: Sendable {
    private struct Seen {
        /// By key and creation: a job removed and added again writes its history anew, under
        /// the same sequential names as before.
        var history: [String: HistorySighting] = [:]
        var runs: Set<RunSighting> = []
    }

    let store: any CoordinationStore
    private let layout = SchedulerLayout()
    private let seen = Mutex(Seen())
    private let logger: Logger

    init(store: any CoordinationStore, logger: Logger) {
        self.store = store
        self.logger = logger
    }

    var history: [HistorySighting] { seen.withLock { Array($0.history.values) } }
    var runs: [RunSighting] { seen.withLock { Array($0.runs) } }

    /// Watches until cancelled, re-opening a watch that fails (the store reconnects on its own).
    func run() async {
        await withTaskGroup(of: Void.self) { group in
            group.addTask { await self.follow(self.layout.history) { self.noteHistory($0) } }
            group.addTask { await self.follow(self.layout.jobs) { self.noteRun($0) } }
        }
    }

    /// The store's revision now: a write's revision, so it orders against claims (fencing tokens)
    /// and history entries of the same store.
    func revisionNow(within limit: Duration) async throws -> Int64 {
        let marker = try Key("/chaos-marker")
        let deadline = ContinuousClock.now + limit
        while true {
            do {
                return try await store.put(marker, value: Array("\(Date().timeIntervalSince1970)".utf8)).modRevision
            } catch let error as CoordinationError where error.code.isTransient && ContinuousClock.now < deadline {
                try await Task.sleep(for: .milliseconds(100))  // back off while the cluster recovers
            }
        }
    }

    /// Reads every history entry now (after the run), adding what the watch may have missed.
    func readHistory() async throws {
        for bucket in try await store.children(of: layout.history) {
            for job in try await store.children(of: try layout.history.child(bucket)) {
                let folder = try layout.history(of: job)
                for name in try await store.children(of: folder) {
                    if let record = try await store.get(try folder.child(name)) { noteHistory(record) }
                }
            }
        }
    }

    private func follow(_ folder: Key, _ note: @escaping @Sendable (Record) -> Void) async {
        while !Task.isCancelled {
            do {
                for try await event in store.watch(folder, scope: .subtree) {
                    switch event {
                    case .snapshot(let records): for record in records { note(record) }
                    case .put(let record): note(record)
                    case .delete: break  // deleted entries were seen when they were written
                    }
                }
            } catch is CancellationError {
                return
            } catch {
                logger.debug("chaos: watch of \(folder) ended; watching again", metadata: ["error": "\(error)"])
            }
            try? await Task.sleep(for: .milliseconds(200))  // back off before watching again
        }
    }

    private static let decoder: JSONDecoder = {
        let decoder = JSONDecoder()
        decoder.dateDecodingStrategy = .millisecondsSince1970
        return decoder
    }()

    /// Keeps `record` if it holds a history entry (internal for the tests: a record as a watch or
    /// a read delivers it).
    func noteHistory(_ record: Record) {
        guard !record.value.isEmpty, let entry = try? Self.decoder.decode(HistoryEntry.self, from: Data(record.value)) else { return }
        let sighting = HistorySighting(key: record.key.path, entry: entry, createRevision: record.createRevision)
        seen.withLock { $0.history["\(sighting.key)@\(sighting.createRevision)"] = sighting }
    }

    /// Keeps `record` if it is a run record's version (internal for the tests, as above).
    func noteRun(_ record: Record) {
        guard layout.isRun(record.key), !record.value.isEmpty, let run = try? Self.decoder.decode(RunRecord.self, from: Data(record.value)) else { return }
        let sighting = RunSighting(key: record.key.path, record: run, modRevision: record.modRevision, version: record.version)
        _ = seen.withLock { $0.runs.insert(sighting) }
    }
}
