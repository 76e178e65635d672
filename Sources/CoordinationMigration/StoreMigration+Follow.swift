import Coordination

extension StoreMigration {
    /// Mirrors the source's subtree onto the target until the calling task is cancelled, then
    /// returns what it did (cancellation is the normal way to stop, not an error).
    ///
    /// It watches the prefix on the source (clause 8): the first snapshot is copied like
    /// ``run(mirror:progress:)`` does; then each put is written (read-compare-write) and each
    /// delete of a key it copied is applied (with the ancestors the source lacks that it leaves
    /// empty, ``mirrorDelete(of:keeping:)``), one event at a time so that nothing is reordered. A put
    /// of an ephemeral key where a copied persistent key was deletes the copy, as its delete would. A
    /// later snapshot (the watch lost continuity) is copied again and keys that vanished from it
    /// are deleted. After each snapshot has been copied, a ``MigrationProgress/Phase/following``
    /// report with `phaseEnded` says so; its counts list the keys the target cannot hold, those of
    /// the source that no ``Key`` can name among them. A key the target cannot hold that turns up
    /// later (a value grown past the limit) is named at once in a report's
    /// ``MigrationProgress/notMirrored``: the target keeps what it had, a silent difference otherwise.
    /// New sequential counters are carried forward at each snapshot; run
    /// ``run(mirror:progress:)`` after stopping to catch up and carry them for the last time.
    public func follow(progress: ProgressHandler = { _ in }) async throws -> FollowReport {
        let start = ContinuousClock.now
        var report = FollowReport(counts: MigrationCounts())
        var known = Set<Key>()
        // Source keys the target cannot hold now: each is reported once, when it becomes one.
        var unmirrored = Set<Key>()
        var first = true
        do {
            for try await event in source.watch(options.prefix, scope: .subtree) {
                let arrived = ContinuousClock.now
                var notMirrored: [MigrationCounts.SkippedKey] = []
                switch event {
                case .snapshot(let records):
                    let refused = Self.refusals(in: records)
                    // The first snapshot's are listed with the others when following starts.
                    if !first { notMirrored = refused.filter { !unmirrored.contains($0.key) }.map(\.skipped) }
                    unmirrored = Set(refused.map(\.key))
                    if first {
                        // Keys no Key can name (another etcd tool's) are in no snapshot: listed
                        // once, at the start, as the catch-up at stop lists them again.
                        for path in try await foreignKeysOnSource() { report.counts.skip(path, Self.foreignKeyProblem(path)) }
                    } else {
                        report.resnapshots += 1
                    }
                    first = false
                    try await copy(records, mirror: false, counts: &report.counts, start: start, progress: progress)
                    let now = Set(records.lazy.filter { !$0.isEphemeral }.map(\.key))
                    for key in known.subtracting(now).sorted(by: >) {
                        if try await deleteOnTarget(key, keeping: now) { report.counts.deleted += 1 }
                    }
                    known = now
                    // Says that the target has caught up with this snapshot; events follow.
                    progress(MigrationProgress(
                        phase: .following, counts: report.counts, read: report.events, total: known.count,
                        elapsed: ContinuousClock.now - start, phaseEnded: true, notMirrored: notMirrored))
                case .put(let record):
                    report.events += 1
                    if record.isEphemeral {
                        report.counts.ephemeral += 1
                        // A copied key deleted and created again as a session's key can come as
                        // this put alone (ZooKeeper re-reads a key after its watch fires): the
                        // source no longer has it persistent, so neither may the mirror.
                        if known.remove(record.key) != nil {
                            report.counts.deleted += try await mirrorDelete(of: record.key, keeping: known)
                        }
                        continue
                    }
                    let outcome = try await putOne(record)
                    switch outcome {
                    case .written: report.counts.copied += 1
                    case .overwritten:
                        report.counts.copied += 1
                        report.counts.overwrite(record.key)
                    case .identical: report.counts.identical += 1
                    case .heldByEphemeral: report.counts.hold(record.key)
                    case .refused(let error):
                        report.counts.skip(record.key.path, error)
                        if unmirrored.insert(record.key).inserted {
                            notMirrored.append(MigrationCounts.SkippedKey(path: record.key.path, reason: error.message, code: error.code))
                        }
                    }
                    if case .refused = outcome {} else { unmirrored.remove(record.key) }
                    known.insert(record.key)
                case .delete(let key):
                    report.events += 1
                    unmirrored.remove(key)
                    if known.remove(key) != nil {
                        report.counts.deleted += try await mirrorDelete(of: key, keeping: known)
                    }
                }
                if report.events > 0 || report.resnapshots > 0 {  // the initial copy is not a delay
                    report.maxApplyDelay = max(report.maxApplyDelay, ContinuousClock.now - arrived)
                }
                progress(MigrationProgress(
                    phase: .following, counts: report.counts, read: report.events, total: known.count,
                    elapsed: ContinuousClock.now - start, phaseEnded: false, notMirrored: notMirrored))
            }
        } catch {
            if !Task.isCancelled { throw error }
        }
        report.mirrored = known
        return report
    }

    /// The persistent keys of a snapshot whose values the target cannot hold, each with why, as
    /// ``copy(_:mirror:counts:start:progress:)`` refuses them.
    static func refusals(in records: [Record]) -> [(key: Key, skipped: MigrationCounts.SkippedKey)] {
        records.compactMap { record in
            guard !record.isEphemeral, let problem = writeProblem(record, exists: true) else { return nil }
            return (record.key, MigrationCounts.SkippedKey(path: record.key.path, reason: problem.message, code: problem.code))
        }
    }

    /// Mirrors the source's delete of `key`: deletes it on the target (``deleteOnTarget(_:keeping:)``),
    /// then each ancestor up to the prefix that the source does not have (not in `kept`) and that
    /// is left empty. Such an ancestor stayed only to hold a key the source still had when its
    /// own delete came: a watch may tell a parent's replacement (by an ephemeral key) before its
    /// child's delete, and another etcd tool may delete a parent alone.
    /// - Returns: how many deletes counted (the key, and each ancestor deleted).
    func mirrorDelete(of key: Key, keeping kept: Set<Key>) async throws -> Int {
        var count = try await deleteOnTarget(key, keeping: kept) ? 1 : 0
        var next = key.parent
        while let ancestor = next, !ancestor.isRoot, ancestor.isUnder(options.prefix), !kept.contains(ancestor) {
            do {
                // Not recursive: anything still beneath it (a live session's key, a key only the
                // target has) keeps it, as the catch-up at stop decides.
                try await target.delete(ancestor, ifVersion: nil, recursive: false)
                count += 1
            } catch let error as CoordinationError where error.code == .notEmpty || error.code == .noNode {
                break
            } catch let error as CoordinationError {
                throw Self.targetFailure(error, "the migration's delete of \(ancestor) on the target (mirroring the source) failed")
            }
            next = ancestor.parent
        }
        return count
    }

    /// Deletes `key` and anything beneath it on the target; already gone is fine. Ephemeral keys
    /// (a live session's, which a held source key was never copied over), and the keys in
    /// `kept` (the source still has them: another etcd tool deleted only their parent), at `key`
    /// or beneath it, are left alone with their ancestors: a recursive delete would have taken them.
    /// - Returns: `false` when nothing was deleted.
    @discardableResult
    func deleteOnTarget(_ key: Key, keeping kept: Set<Key> = []) async throws -> Bool {
        do {
            let subtree = try await target.records(under: key)
            let staying = Set(subtree.filter { $0.isEphemeral || kept.contains($0.key) }.map(\.key))
            if subtree.isEmpty { return false }
            if staying.isEmpty {
                try await target.delete(key, ifVersion: nil, recursive: true)
                return true
            }
            // Deepest first, each key that is no staying key nor holds one, one by one.
            let holding = staying.union(Self.ancestors(of: staying))
            var deleted = false
            for record in subtree.sorted(by: { $0.key.depth > $1.key.depth }) where !holding.contains(record.key) {
                do {
                    try await target.delete(record.key, ifVersion: nil, recursive: false)
                    deleted = true
                } catch let error as CoordinationError where error.code == .noNode || error.code == .notEmpty {
                    // Gone already, or something was created beneath it meanwhile: left as it is.
                }
            }
            return deleted
        } catch let error as CoordinationError where error.code == .noNode {
            return false
        } catch let error as CoordinationError {
            throw Self.targetFailure(error, "the migration's delete of \(key) on the target (mirroring the source) failed")
        }
    }
}
