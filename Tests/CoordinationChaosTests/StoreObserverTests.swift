import Coordination
import CoordinationMemory
import CoordinationScheduler
import Foundation
import Testing

@testable import CoordinationChaos

/// What the chaos run's observer keeps of the history entries and run records it sees: every
/// "history complete" and "no overlapping runs" check reads only what it kept.
@Suite("The chaos store observer")
struct StoreObserverTests {
    static let layout = SchedulerLayout()

    static func encoded<T: Encodable>(_ value: T) throws -> [UInt8] {
        let encoder = JSONEncoder()
        encoder.dateEncodingStrategy = .millisecondsSince1970
        return Array(try encoder.encode(value))
    }

    static func entry(_ job: String, _ outcome: HistoryEntry.Outcome) -> HistoryEntry {
        HistoryEntry(job: job, run: "r1", item: 0, worker: "w1", token: 7, finishedAt: Date(timeIntervalSince1970: 1_000), outcome: outcome)
    }

    static func historyRecord(_ entry: HistoryEntry, name: String, createRevision: Int64) throws -> Record {
        let key = try layout.history(of: entry.job).child(name)
        return Record(
            key: key, value: try encoded(entry), version: 0, createRevision: createRevision, modRevision: createRevision,
            isEphemeral: false)
    }

    static func runRecord(
        _ job: String, status: RunRecord.Status, modRevision: Int64, version: Int64, claimVersion: Int64? = nil, progress: String? = nil
    ) throws -> Record {
        var run = RunRecord(
            job: job, run: "r1", item: 0, itemCount: 1, itemParameter: nil, scheduledAt: Date(timeIntervalSince1970: 1_000),
            notBefore: Date(timeIntervalSince1970: 1_000), status: status, progress: progress)
        run.claimVersion = claimVersion
        return Record(
            key: try layout.runs(of: job).child("r1"), value: try encoded(run), version: version, createRevision: 3,
            modRevision: modRevision, isEphemeral: false)
    }

    static func observer() async throws -> StoreObserver {
        let store = try await MemoryServer().connect(namespace: .root, sessionTTL: .seconds(5))
        return StoreObserver(store: store, logger: .init(label: "test"))
    }

    /// A job removed and added again writes its history anew under the same sequential names:
    /// both entries count (one key would keep only the later, and an entry the run wrote would
    /// look lost). One entry delivered twice (a watch's snapshot, then a read) counts once.
    @Test func entriesAreKeptByKeyAndCreation() async throws {
        let observer = try await Self.observer()
        let first = try Self.historyRecord(Self.entry("job-a", .succeeded), name: "h-0000000000", createRevision: 10)
        let again = try Self.historyRecord(Self.entry("job-a", .failed), name: "h-0000000000", createRevision: 25)
        observer.noteHistory(first)
        observer.noteHistory(first)
        observer.noteHistory(again)
        let seen = observer.history.sorted { $0.createRevision < $1.createRevision }
        #expect(seen.map(\.createRevision) == [10, 25])
        #expect(seen.map(\.entry.outcome) == [.succeeded, .failed])
        #expect(Set(seen.map(\.key)) == [first.key.path])
    }

    /// Records that hold no history entry (a folder's empty value, other bytes) are not entries.
    @Test func recordsWithoutAnEntryAreLeftOut() async throws {
        let observer = try await Self.observer()
        let folder = try Self.layout.history(of: "job-a")
        observer.noteHistory(Record(key: folder, value: [], version: 0, createRevision: 4, modRevision: 4, isEphemeral: false))
        observer.noteHistory(
            Record(key: try folder.child("h-0000000001"), value: Array("not json".utf8), version: 0, createRevision: 5, modRevision: 5, isEphemeral: false))
        #expect(observer.history.isEmpty)
    }

    /// Each version of a run record is kept with its revision and version, so a claim (the
    /// version its `claimVersion` names) is told from the writes after it; the job's own key and
    /// a claim key beneath the run are no run records.
    @Test func everyVersionOfARunIsKept() async throws {
        let observer = try await Self.observer()
        let claimed = try Self.runRecord("job-a", status: .running, modRevision: 12, version: 1, claimVersion: 1)
        observer.noteRun(try Self.runRecord("job-a", status: .pending, modRevision: 11, version: 0))
        observer.noteRun(claimed)
        observer.noteRun(claimed)
        observer.noteRun(try Self.runRecord("job-a", status: .running, modRevision: 14, version: 2, claimVersion: 1, progress: "half"))
        let jobKey = try Self.layout.runs(of: "job-a")
        observer.noteRun(Record(key: jobKey, value: claimed.value, version: 0, createRevision: 2, modRevision: 2, isEphemeral: false))
        observer.noteRun(
            Record(key: try claimed.key.child(SchedulerLayout.claimName), value: claimed.value, version: 0, createRevision: 12, modRevision: 12, isEphemeral: false))

        let seen = observer.runs.sorted { $0.modRevision < $1.modRevision }
        #expect(seen.map(\.modRevision) == [11, 12, 14])
        #expect(seen.map(\.version) == [0, 1, 2])
        #expect(seen.map(\.isClaim) == [false, true, false])
    }

    /// After the run, a read adds the entries the watch missed: every job's, in every bucket.
    @Test func readingAfterTheRunFindsEveryEntry() async throws {
        let observer = try await Self.observer()
        let store = observer.store
        let jobs = ["job-a", "job-b", "job-c"]
        for job in jobs {
            let entry = try await store.create(try Self.layout.newHistoryEntry(of: job), value: try Self.encoded(Self.entry(job, .succeeded)), mode: .sequential)
            #expect(Self.layout.isHistoryEntry(entry.key))
        }
        try await observer.readHistory()
        #expect(Set(observer.history.map(\.entry.job)) == Set(jobs))
        #expect(Set(observer.history.map(\.key)).count == jobs.count)
    }
}
