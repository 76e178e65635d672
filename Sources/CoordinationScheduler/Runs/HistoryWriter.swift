import Coordination

/// Appends history entries inside the transaction that ends a run (or skips a fire time), and
/// trims the job's history to its bound in the same transaction.
struct HistoryWriter: Sendable {
    let store: any CoordinationStore
    let layout: SchedulerLayout
    /// When set, the transactions go through it (merged with other jobs' writes under load).
    var commits: GroupCommit? = nil

    /// Most deletions of old entries one transaction carries; a backlog shrinks over several writes.
    static let maxTrimPerTransaction = 16

    /// How many entries `job`'s history holds now.
    func entryCount(of job: String) async throws -> Int {
        do {
            return try await store.children(of: try layout.history(of: job)).count
        } catch let error as CoordinationError where error.code == .noNode {
            return 0
        }
    }

    /// Applies `operations` followed by the creation of `entries` (and trimming) all or nothing.
    /// `operations` is rebuilt on each try, so it can read fresh state. Retries only when another
    /// writer trimmed the same old entry first, or `room` no longer holds; any other failure is
    /// thrown with its index into `operations` intact.
    ///
    /// Trimming needs the history's entries, one more read per write; with `room` (which the
    /// transaction checks) the write skips it.
    @discardableResult
    func transact(
        job: String, entries: [HistoryEntry], room: HistoryRoom? = nil,
        _ operations: () async throws -> [Coordination.Operation]
    ) async throws -> [OperationResult] {
        var attempt = 0
        var room = room
        while true {
            attempt += 1
            let prefix = try await operations()
            let folder = try layout.history(of: job)
            var existing: [String] = []
            if !entries.isEmpty && room == nil {  // nothing to trim for a write that adds no entry (most claims)
                do { existing = try await store.children(of: folder) } catch let error as CoordinationError
                    where error.code == .noNode {}
            }
            var appended: [Coordination.Operation] = []
            for entry in entries {
                appended.append(.create(try layout.newHistoryEntry(of: job), value: try SchedulerJSON.encode(entry), mode: .sequential))
            }
            let proof: [Coordination.Operation] = room.map { [.check($0.job, version: $0.version)] } ?? []
            // Only as many as the transaction has room for: a fire time of a job with the most
            // items fills it with runs, and the history is trimmed by a later write instead.
            let spare = CoordinationLimits.maxTransactionOperations - prefix.count - appended.count - proof.count
            let excess = min(Self.maxTrimPerTransaction, spare, max(0, existing.count + entries.count - layout.historyLimit))
            // A name the store lists that makes no valid key (written by another tool) is left alone.
            let trims = existing.prefix(excess).compactMap { name in
                (try? folder.child(name)).map { Coordination.Operation.delete($0, ifVersion: nil) }
            }
            let checkedUpTo = prefix.count + appended.count + proof.count
            do {
                let operations = prefix + appended + proof + trims
                if let commits { return try await commits.transaction(operations, domain: job) }
                return try await store.transaction(operations)
            } catch let error as CoordinationError
                where room != nil && error.failedOperation == prefix.count + appended.count
            {
                room = nil  // the job's state moved on: count the entries after all
            } catch let error as CoordinationError
                where error.code == .noNode && (error.failedOperation ?? -1) >= checkedUpTo && attempt < 8 {
                continue  // someone else trimmed that entry first: read again
            }
        }
    }
}
