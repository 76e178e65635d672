public import Coordination
public import Logging

/// Copies the persistent subtree under a prefix from one store to another, through the
/// `CoordinationStore` contract only, so any pair of backends works.
///
/// - **What is copied:** every persistent key at and beneath ``MigrationOptions/prefix``, value
///   byte for byte. Ephemeral keys are skipped and counted: they belong to live sessions, whose
///   clients re-create them on the new store. Versions and revisions are the target's own
///   (clause 4: they never carry across stores).
/// - **Idempotent and resumable:** the target is read first and every key is planned as *create*
///   (absent), *set* (different value) or *identical* (skipped). Writes go in transactions of
///   creates or sets; a transaction that fails (someone else wrote meanwhile, or a parent is
///   missing) falls back to one key at a time, each read-compare-write. So a second run after an
///   interruption writes only what is missing or different, and never duplicates a key.
/// - **Order:** keys are written level by level (all keys of depth d before depth d + 1), so a
///   transaction's parents always exist already; within a level, up to
///   ``MigrationOptions/concurrency`` transactions are in flight.
/// - **Sequential counters** are carried forward so new sequential keys on the target sort after
///   the copied ones: see ``advanceCounter(under:past:)``.
/// - **Ephemeral keys on the target** belong to live sessions: a source key whose path holds one
///   on the target (or lies beneath one) is not copied but counted
///   (``MigrationCounts/heldByEphemeral``), and ``verify(limit:progress:)`` reports it.
/// - **One store reached twice** (two spellings of a host, two members of one cluster) would
///   copy a subtree into itself: ``targetIsSource()`` finds out.
///
/// Nothing here prints: progress goes to a callback, the outcome is returned. Logging goes to
/// ``logger`` at debug level. The caller owns both store handles: nothing here closes them.
///
/// ```swift
/// let migration = StoreMigration(source: zookeeper, target: etcd, options: MigrationOptions(prefix: try Key("/config")), logger: logger)
/// let report = try await migration.run()
/// let verification = try await migration.verify()   // verification.isClean when both sides match
/// ```
public struct StoreMigration: Sendable {
    /// The store read from; never written (except ``targetIsSource()``'s marker, read through it).
    public let source: any CoordinationStore
    /// The store written to, under the same paths relative to its namespace.
    public let target: any CoordinationStore
    public let options: MigrationOptions
    public let logger: Logger

    /// The segment prefix of the keys used to move a sequential counter; never left behind.
    static let counterProbeName = "coord-migrate-counter-"

    /// Does no I/O: each of ``run(mirror:progress:)``, ``verify(limit:mirror:progress:)``,
    /// ``follow(progress:)`` and ``targetIsSource()`` is a pass of its own, and may be repeated.
    public init(source: any CoordinationStore, target: any CoordinationStore, options: MigrationOptions, logger: Logger) {
        self.source = source
        self.target = target
        self.options = options
        self.logger = logger
    }

    /// Receives the progress reports, from whichever task makes them (concurrently with the
    /// migration's own work): keep it quick.
    public typealias ProgressHandler = @Sendable (MigrationProgress) -> Void

    // MARK: Copy

    /// Copies the subtree (or, in a dry run, counts what would be copied).
    /// - Parameter mirror: also delete persistent keys under the prefix that the target has and the
    ///   source does not (what `--follow` does when it stops, so that the target is a mirror).
    /// - Returns: the counts; keys the target can never hold are in ``MigrationCounts/skipped``,
    ///   keys held by a live session's ephemeral key in ``MigrationCounts/heldByEphemeral``, and
    ///   neither is an error.
    /// - Throws: a `CoordinationError` from either store, its message saying which side and which
    ///   key or phase; `CancellationError` when the task is cancelled. Either way the last
    ///   progress report has ``MigrationProgress/stopped`` set and says what was written, and
    ///   running the migration again finishes the copy.
    public func run(mirror: Bool = false, progress: @escaping ProgressHandler = { _ in }) async throws -> MigrationReport {
        let start = ContinuousClock.now
        let phases = PhaseTimes()
        let progress: ProgressHandler = { report in
            if report.phaseEnded { phases.ended(report.phase, at: report.elapsed) }
            progress(report)
        }
        var counts = MigrationCounts()
        var deleted: [Key] = []
        do {
            for path in try await foreignKeysOnSource() { counts.skip(path, Self.foreignKeyProblem(path)) }
            deleted = try await copy(
                from: sourceLevels(start: start, progress: progress), mirror: mirror, counts: &counts, start: start,
                progress: progress)
        } catch {
            // What was done until the failure or the cancellation, for whoever reports it.
            progress(MigrationProgress(
                phase: .writing, counts: counts, read: counts.sourceKeys + counts.ephemeral, total: counts.sourceKeys,
                elapsed: ContinuousClock.now - start, phaseEnded: false, stopped: true))
            throw error
        }
        return MigrationReport(
            counts: counts, elapsed: ContinuousClock.now - start, dryRun: options.dryRun, deletedKeys: deleted,
            phases: phases.ends)
    }

    /// Writes `records` (the source's state, as a watch snapshot gives it) to the target.
    func copy(
        _ records: [Record], mirror: Bool, counts: inout MigrationCounts, start: ContinuousClock.Instant, progress: ProgressHandler
    ) async throws {
        try await copy(from: Self.levels(of: records), mirror: mirror, counts: &counts, start: start, progress: progress)
    }

    /// What a read of one side found under the prefix.
    struct SideState {
        /// Each persistent key's value digest and version.
        var persistent: [Key: (digest: ContentDigest, version: Int64)] = [:]
        /// The ephemeral keys: live sessions' keys, never written by the migration.
        var ephemeral = Set<Key>()
    }

    /// Writes the source's state, given level by level (all keys of depth d, then d + 1…), to the
    /// target: plan each level against the target's digests, write it, then carry the sequential
    /// counters forward. The writer works on a level while the reader fetches the next one.
    /// `counts` accumulates (also when it throws: it then says what was done).
    /// - Returns: the keys deleted with `mirror`, deepest first.
    @discardableResult
    func copy(
        from levels: AsyncThrowingStream<[Record], any Error>, mirror: Bool, counts: inout MigrationCounts,
        start: ContinuousClock.Instant, progress: ProgressHandler
    ) async throws -> [Key] {
        let existing = try await state(
            of: target, mode: options.targetReads, phase: .readingTarget, start: start, counts: counts, progress: progress)
        var wanted = Set<Key>()
        // Source keys at or beneath an ephemeral key of the target (which cannot have children).
        var held = Set<Key>()
        // Each parent's copied sequential numbers: a name that only looks sequential must not
        // hide the genuine ones below it (see ``advanceCounter(under:past:)``).
        var sequential: [Key: [Int64]] = [:]
        var read = 0
        for try await level in levels {
            read += level.count
            var creates: [Record] = []
            var sets: [Record] = []
            var versions: [Key: Int64] = [:]
            for record in level {
                if let number = Self.sequenceNumber(record.key.name), let parent = record.key.parent {
                    sequential[parent, default: []].append(number)
                }
                if record.isEphemeral {
                    counts.ephemeral += 1
                    continue
                }
                counts.sourceKeys += 1
                wanted.insert(record.key)
                if existing.ephemeral.contains(record.key) || record.key.parent.map(held.contains) == true {
                    held.insert(record.key)
                    counts.hold(record.key)
                } else if let problem = Self.writeProblem(record, exists: existing.persistent[record.key] != nil) {
                    counts.skip(record.key.path, problem)
                } else if let found = existing.persistent[record.key] {
                    if found.digest == ContentDigest.of(record.value) {
                        counts.identical += 1
                    } else {
                        sets.append(record)
                        versions[record.key] = found.version
                    }
                } else {
                    creates.append(record)
                }
            }
            if options.dryRun {
                counts.copied += creates.count + sets.count
                for record in sets { counts.overwrite(record.key) }
                continue
            }
            // This level's parents were written with the previous level (or existed already).
            try await write(
                creates + sets, creates: creates.count, versions: versions, counts: &counts, total: read, start: start,
                progress: progress)
        }
        // A stream ends quietly when the task reading it is cancelled (a SIGINT): the levels read
        // so far must not pass for the whole source.
        try Task.checkCancellation()
        var deleted: [Key] = []
        if mirror {
            // The parents of source keys stay, even where the source lacks them (another etcd
            // tool deleted them alone): the target cannot hold a key without its parent.
            let parents = Self.ancestors(of: wanted)
            // Deepest first: a key's children sort after it. Ephemeral keys are not in the list.
            for key in existing.persistent.keys.filter({ !wanted.contains($0) && !parents.contains($0) }).sorted(by: >) {
                // A key left standing as the ancestor of a live session's ephemeral key is not counted.
                if options.dryRun ? existing.ephemeral.contains(where: { $0.isUnder(key) }) : !(try await deleteOnTarget(key)) {
                    continue
                }
                counts.deleted += 1
                deleted.append(key)
            }
        }
        progress(MigrationProgress(
            phase: .writing, counts: counts, read: read, total: counts.sourceKeys, elapsed: ContinuousClock.now - start,
            phaseEnded: true))
        // A live session's ephemeral key on the target can have no children, so no counter to
        // move: its sequential children were listed as not copied, and a run after the session copies them.
        try await carryCounters(
            sequential.filter { !held.contains($0.key) && !existing.ephemeral.contains($0.key) }
                .mapValues { Array(Set($0)).sorted() },
            counts: &counts)
        progress(MigrationProgress(
            phase: .counters, counts: counts, read: read, total: counts.sourceKeys, elapsed: ContinuousClock.now - start,
            phaseEnded: true))
        return deleted
    }

    /// Every proper ancestor of `keys` (the root aside).
    static func ancestors(of keys: Set<Key>) -> Set<Key> {
        var result = Set<Key>()
        for key in keys {
            var next = key.parent
            while let parent = next, !parent.isRoot, result.insert(parent).inserted { next = parent.parent }
        }
        return result
    }

    /// `records` grouped by depth, shallowest first.
    static func levels(of records: [Record]) -> AsyncThrowingStream<[Record], any Error> {
        var byDepth: [Int: [Record]] = [:]
        for record in records { byDepth[record.key.depth, default: []].append(record) }
        let levels = byDepth.keys.sorted().map { byDepth[$0]! }
        return AsyncThrowingStream { continuation in
            for level in levels { continuation.yield(level) }
            continuation.finish()
        }
    }

    /// The source's records under the prefix, level by level, read by a task of their own.
    private func sourceLevels(start: ContinuousClock.Instant, progress: @escaping ProgressHandler) -> AsyncThrowingStream<[Record], any Error> {
        AsyncThrowingStream { continuation in
            let task = Task {
                do {
                    switch options.sourceReads {
                    case .walk:
                        let records = try await read(
                            source, mode: .walk, phase: .readingSource, start: start, progress: progress)
                        for try await level in Self.levels(of: records) { continuation.yield(level) }
                    case .parallel(let width):
                        var count = 0
                        do {
                            try await ParallelTreeRead(store: source, width: max(1, width)).levels(under: options.prefix) { level in
                                continuation.yield(level)
                                count += level.count
                                progress(MigrationProgress(
                                    phase: .readingSource, counts: MigrationCounts(), read: count, total: 0,
                                    elapsed: ContinuousClock.now - start, phaseEnded: false))
                            }
                        } catch let error as CoordinationError {
                            throw Self.readFailure(error, phase: .readingSource)
                        }
                        progress(MigrationProgress(
                            phase: .readingSource, counts: MigrationCounts(), read: count, total: 0,
                            elapsed: ContinuousClock.now - start, phaseEnded: true))
                    }
                    continuation.finish()
                } catch {
                    continuation.finish(throwing: error)
                }
            }
            continuation.onTermination = { _ in task.cancel() }
        }
    }

    /// What one batch did.
    private struct BatchOutcome: Sendable {
        var copied = 0
        var identical = 0
        /// Of the copied keys, those written over a different value.
        var overwritten: [Key] = []
        /// Keys found held by an ephemeral key on the target when written.
        var held: [Key] = []
        /// Keys the target refused for good (its own limits), and why.
        var refused: [(key: Key, error: CoordinationError)] = []
    }

    /// Writes `records` in transactions of up to ``MigrationOptions/batchSize`` operations, up to
    /// ``MigrationOptions/concurrency`` at once.
    /// The first `creates` records are created, the rest set (each only at its version in `versions`).
    private func write(
        _ records: [Record], creates: Int, versions: [Key: Int64], counts: inout MigrationCounts, total: Int,
        start: ContinuousClock.Instant, progress: ProgressHandler
    ) async throws {
        let batches = Self.batches(Array(records[..<creates]), size: options.batchSize).map { ($0, true) }
            + Self.batches(Array(records[creates...]), size: options.batchSize).map { ($0, false) }
        var sinceReport = 0
        try await withThrowingTaskGroup(of: BatchOutcome.self) { group in
            var inFlight = 0
            func collect(_ outcome: BatchOutcome) {
                counts.copied += outcome.copied
                counts.identical += outcome.identical
                for key in outcome.overwritten { counts.overwrite(key) }
                for key in outcome.held { counts.hold(key) }
                for (key, error) in outcome.refused { counts.skip(key.path, error) }
                sinceReport += outcome.copied + outcome.identical
                if sinceReport >= options.progressEvery {
                    sinceReport = 0
                    progress(MigrationProgress(
                        phase: .writing, counts: counts, read: total, total: total, elapsed: ContinuousClock.now - start,
                        phaseEnded: false))
                }
            }
            // The first failure stops the sending; transactions already sent land or fail on
            // their own, and every one that landed is counted, so that what an interruption
            // reports is what the target holds.
            var failure: (any Error)?
            func settle(_ result: Result<BatchOutcome, any Error>) {
                switch result {
                case .success(let outcome): collect(outcome)
                case .failure(let error): failure = failure ?? error
                }
            }
            for (batch, create) in batches {
                if inFlight >= options.concurrency, let result = await group.nextResult() {
                    inFlight -= 1
                    settle(result)
                }
                if failure != nil { break }
                if Task.isCancelled {  // stop sending when interrupted; a re-run finishes
                    failure = CancellationError()
                    break
                }
                group.addTask { try await self.writeBatch(batch, create: create, versions: versions) }
                inFlight += 1
            }
            while let result = await group.nextResult() { settle(result) }
            if let failure { throw failure }
        }
    }

    /// Splits records into transactions within the portable limits; a value too large to share a
    /// transaction goes alone (and is written without one).
    static func batches(_ records: [Record], size: Int) -> [[Record]] {
        let limit = min(max(1, size), CoordinationLimits.maxTransactionOperations)
        // Leave room under the byte limit for keys and the backend's framing.
        let byteBudget = CoordinationLimits.maxTransactionBytes / 2
        var result: [[Record]] = []
        var current: [Record] = []
        var bytes = 0
        for record in records {
            let size = record.key.path.utf8.count + record.value.count
            if !current.isEmpty && (current.count >= limit || bytes + size > byteBudget) {
                result.append(current)
                current = []
                bytes = 0
            }
            current.append(record)
            bytes += size
        }
        if !current.isEmpty { result.append(current) }
        return result
    }

    /// One transaction of creates (or sets); if it fails, each key on its own.
    private func writeBatch(_ batch: [Record], create: Bool, versions: [Key: Int64]) async throws -> BatchOutcome {
        if batch.count > 1 || batch[0].value.count + batch[0].key.path.utf8.count <= CoordinationLimits.maxTransactionBytes / 2 {
            let operations: [Operation] = batch.map {
                create
                    ? .create($0.key, value: $0.value, mode: .persistent)
                    : .set($0.key, value: $0.value, ifVersion: versions[$0.key])
            }
            do {
                _ = try await target.transaction(operations)
                return BatchOutcome(copied: batch.count, overwritten: create ? [] : batch.map(\.key))
            } catch let error as CoordinationError where Self.fallsBack(error.code) {
                logger.debug("a migration batch fell back to single keys", metadata: [
                    "keys": "\(batch.count)", "reason": "\(error.message)",
                ])
            } catch let error as CoordinationError {
                let key = error.failedOperation.flatMap { batch.indices.contains($0) ? batch[$0].key : nil } ?? batch[0].key
                throw Self.targetFailure(
                    error, "the migration's \(create ? "create" : "set") of \(key)"
                        + (batch.count > 1 ? " (in a transaction of \(batch.count) keys)" : "") + " on the target failed")
            }
        }
        var outcome = BatchOutcome()
        for record in batch {
            switch try await putOne(record) {
            case .written: outcome.copied += 1
            case .overwritten:
                outcome.copied += 1
                outcome.overwritten.append(record.key)
            case .identical: outcome.identical += 1
            case .heldByEphemeral: outcome.held.append(record.key)
            case .refused(let error): outcome.refused.append((record.key, error))
            }
        }
        return outcome
    }

    /// Errors after which the keys are written one by one: the target changed under the plan (an
    /// ephemeral key appeared where a key or its parent goes, a key changed or vanished).
    /// (A key the target refuses for good is found, and set aside, that way too.)
    static func fallsBack(_ code: CoordinationError.Code) -> Bool {
        [.nodeExists, .noNode, .versionConflict, .transactionTooLarge, .ephemeralChildren, .valueTooLarge, .invalidKey]
            .contains(code)
    }

    /// Why the target can never hold `record` (checked before writing, so that one such key does
    /// not stop the others), or `nil`. A key too deep to create can still be set where it exists.
    static func writeProblem(_ record: Record, exists: Bool) -> CoordinationError? {
        do {
            try CoordinationLimits.validate(value: record.value, for: record.key)
            if !exists { try CoordinationLimits.validate(create: record.key, mode: .persistent) }
            return nil
        } catch {
            return error
        }
    }

    /// The keys under the prefix that the source holds but no ``Key`` can name (written by another
    /// tool): reads pass over them, so without this they would be lost without a word.
    func foreignKeysOnSource() async throws -> [String] {
        guard let listing = source as? any ForeignKeyListing else { return [] }
        do {
            return try await listing.foreignKeys(under: options.prefix)
        } catch let error as CoordinationError {
            throw Self.readFailure(error, phase: .readingSource)
        }
    }

    /// Why `path` (a key another tool wrote) is no ``Key``.
    static func foreignKeyProblem(_ path: String) -> CoordinationError {
        let problem = Key.problem(with: path, limit: CoordinationLimits.maxKeyBytes) ?? "not a key that coord can read"
        return CoordinationError(.invalidKey, "not a valid key: " + problem)
    }

    /// `error` with `context` before its message, keeping its code: which write failed, and that
    /// it was the migration's.
    static func targetFailure(_ error: CoordinationError, _ context: String) -> CoordinationError {
        var error = error
        error.message = context + ": " + error.message
        return error
    }

    /// What ``putOne(_:)`` did.
    enum PutOutcome: Sendable, Equatable {
        case written
        /// Written over a different value.
        case overwritten
        case identical
        /// The target refuses it for good (its limits): trying again cannot help.
        case refused(CoordinationError)
        /// The target holds an ephemeral key (a live session's) at the path or above it: left alone.
        case heldByEphemeral
    }

    /// Makes the target's `record.key` hold `record.value`: read, compare, create or set. An
    /// ephemeral key on the target is never overwritten, and nothing is created beneath one.
    func putOne(_ record: Record) async throws -> PutOutcome {
        do {
            while true {
                if let found = try await target.get(record.key) {
                    if found.isEphemeral { return .heldByEphemeral }
                    if found.value == record.value { return .identical }
                    do {
                        _ = try await target.set(record.key, value: record.value, ifVersion: found.version)
                        return .overwritten
                    } catch let error as CoordinationError where error.code == .versionConflict || error.code == .noNode {
                        continue  // changed meanwhile: look again
                    }
                }
                do {
                    _ = try await target.create(record.key, value: record.value, mode: .persistent)
                    return .written
                } catch let error as CoordinationError where error.code == .nodeExists {
                    continue  // created meanwhile (a child's missing-ancestor creation, another run): compare
                } catch let error as CoordinationError where error.code == .ephemeralChildren {
                    return .heldByEphemeral  // an ancestor is a live session's ephemeral key
                }
            }
        } catch let error as CoordinationError where error.code == .valueTooLarge || error.code == .invalidKey {
            return .refused(error)
        } catch let error as CoordinationError {
            throw Self.targetFailure(error, "the migration's write of \(record.key) on the target failed")
        }
    }

    // MARK: One store reached twice

    /// The segment prefix of the marker key ``targetIsSource()`` writes; never left behind.
    static let markerName = "coord-migrate-same-store-"

    /// Whether `source` and `target` are one store reached two ways (`localhost` and
    /// `127.0.0.1`, a host name, two members of one etcd cluster or ZooKeeper ensemble), which
    /// no comparison of URLs can tell. Only worth asking when the copied subtrees would overlap
    /// were the stores one; then one namespace lies at or beneath the other (both subtrees are
    /// the same prefix under a namespace).
    ///
    /// It writes: an ephemeral marker key with a random name, created through the target in a
    /// single-operation transaction (which never creates ancestors) under the deeper of the two
    /// namespaces, then looked for through the source at the same place, then deleted (it would
    /// go with the target's session anyway). A missing parent on the target means the deeper
    /// namespace is not there, so the stores are not one (opening a handle makes its namespace
    /// exist). Disjoint namespaces answer `false` without any I/O.
    public func targetIsSource() async throws -> Bool {
        let name = Self.markerName + String(UInt64.random(in: 0...UInt64.max), radix: 16)
        let marker = try Key.root.child(name)
        let onTarget: Key
        let onSource: Key
        if let depth = target.namespace.relative(to: source.namespace) {
            (onTarget, onSource) = (marker, depth.appending(marker))
        } else if let depth = source.namespace.relative(to: target.namespace) {
            (onTarget, onSource) = (depth.appending(marker), marker)
        } else {
            return false
        }
        do {
            _ = try await target.transaction([.create(onTarget, value: [], mode: .ephemeral)])
        } catch let error as CoordinationError where error.code == .noNode || error.code == .ephemeralChildren {
            logger.debug("the target lacks the source's namespace: not the same store", metadata: ["marker": "\(onTarget)"])
            return false
        } catch let error as CoordinationError {
            throw Self.targetFailure(error, "writing the marker key \(onTarget) to the target (to tell whether it is the source) failed")
        }
        let seen: Bool
        do {
            seen = try await source.get(onSource) != nil
        } catch {
            try? await target.delete(onTarget, ifVersion: nil, recursive: false)
            throw error
        }
        do {
            try await target.delete(onTarget, ifVersion: nil, recursive: false)
        } catch {
            logger.debug("the marker key stays until the target's session ends", metadata: [
                "marker": "\(onTarget)", "error": "\(error)",
            ])
        }
        return seen
    }

    // MARK: Sequential counters

    /// Moves each parent's sequential counter on the target past its copied children's numbers
    /// (ephemeral ones included: they came from the same counter), each parent's given sorted and
    /// distinct, as far as ``advanceCounter(under:past:)`` reaches.
    private func carryCounters(_ numbers: [Key: [Int64]], counts: inout MigrationCounts) async throws {
        if options.dryRun {
            counts.countersChecked += numbers.count
            return
        }
        let parents = numbers.sorted { $0.key < $1.key }
        try await withThrowingTaskGroup(of: (Key, CounterOutcome).self) { group in
            var inFlight = 0
            func tally(_ parent: Key, _ outcome: CounterOutcome) {
                counts.countersChecked += 1
                if outcome.moved { counts.countersAdvanced += 1 }
                if let behind = outcome.leftBehind { counts.leaveCounter(under: parent, behind: behind) }
            }
            for (parent, numbers) in parents {
                if inFlight >= options.concurrency, let (parent, outcome) = try await group.next() {
                    inFlight -= 1
                    tally(parent, outcome)
                }
                try Task.checkCancellation()
                group.addTask {
                    do {
                        return (parent, try await self.advanceCounter(under: parent, past: numbers))
                    } catch let error as CoordinationError {
                        throw Self.targetFailure(
                            error, "moving the sequence counter under \(parent) on the target past \(numbers.last ?? 0) failed")
                    }
                }
                inFlight += 1
            }
            for try await (parent, outcome) in group { tally(parent, outcome) }
        }
    }

    /// What ``advanceCounter(under:past:)`` found or did.
    struct CounterOutcome: Sendable, Equatable {
        /// The counter had to be moved: it stood at or below a copied number within reach.
        var moved = false
        /// The lowest and the highest copied numbers it stays behind, if any: those more than
        /// ``maxProbedGap`` above where it stood, on a target that cannot move it at once, and
        /// the last 10-digit number, which no number follows.
        var leftBehind: ClosedRange<Int64>?
    }

    /// The most numbers spent to move one counter on a target that cannot move it at once
    /// (ZooKeeper, about 20,000 a second on loopback): a copied number further above where the
    /// counter stands is left behind and reported, not bridged for hours. Names that only look
    /// sequential (`login-1700000000`, a timestamp) make such gaps.
    public static let maxProbedGap: Int64 = 200_000

    /// The number in a name that ends in a sequential suffix: its last 10 bytes are digits, after a
    /// prefix or alone (ZooKeeper's `create -s /q/` names a key `0000000042`).
    static func sequenceNumber(_ name: String) -> Int64? {
        let digits = CoordinationLimits.sequenceDigits
        let bytes = Array(name.utf8)
        guard bytes.count >= digits else { return nil }
        let suffix = bytes.suffix(digits)
        guard suffix.allSatisfy({ (48...57).contains($0) }) else { return nil }
        return Int64(String(decoding: suffix, as: UTF8.self))
    }

    /// Makes the next sequential key created under `parent` on the target get a number above each
    /// of `numbers` (sorted ascending, distinct) within reach, and says which it stays behind.
    ///
    /// Why this way: the contract exposes no counter. Each backend keeps its own (ZooKeeper: the
    /// parent's `cversion`, bumped by every child create and delete; etcd: a counter key outside
    /// the user's tree, bumped by every sequential create), and every backend hands out numbers
    /// strictly increasing under a parent (clause 6), whatever the prefix. A target that can move
    /// its counter at once (``SequenceCounterAdvancing``: etcd, the embedded store) does so, one
    /// write whatever the gap. Otherwise the one portable way is to spend numbers: create
    /// sequential probe children and delete them. A first probe reads where the counter stands
    /// (usually already past the numbers on ZooKeeper, where copying the children moved it); the
    /// counter is then moved past the highest number at most ``maxProbedGap`` above that, and the
    /// numbers beyond are left behind (names that only look sequential, such as timestamps, so
    /// that one of them among a queue's names does not strand the queue's own). Probes go in
    /// transactions of up to 64 creates followed by one transaction deleting them, so a gap of N
    /// costs about N / 32 round trips. The probes are ephemeral keys under a name of their own
    /// (``counterProbeName``), for the few milliseconds they exist. Re-running it is cheap (one
    /// probe, or one write, per parent).
    func advanceCounter(under parent: Key, past numbers: [Int64]) async throws -> CounterOutcome {
        var outcome = CounterOutcome()
        guard let highest = numbers.last else { return outcome }
        // No number follows the last one: a counter can never pass it.
        let movable = numbers.prefix { $0 < CoordinationLimits.maxSequenceNumber }
        if movable.count < numbers.count { outcome.leftBehind = numbers[movable.count]...highest }
        guard let highestMovable = movable.last else { return outcome }
        if let target = target as? any SequenceCounterAdvancing {
            outcome.moved = try await target.advanceSequenceCounter(under: parent, past: highestMovable)
            return outcome
        }
        let probe = try parent.child(Self.counterProbeName)
        // Ephemeral, so that a run stopped between creating probes and deleting them (a lost
        // connection, a signal) leaves none once its session ends: the counter moves the same.
        let first = try await target.create(probe, value: [], mode: .ephemeralSequential)
        try await target.delete(first.key, ifVersion: nil, recursive: false)
        var current = Self.sequenceNumber(first.key.name) ?? Int64.max
        let inReach = movable.prefix { $0 - current < Self.maxProbedGap }
        if inReach.count < movable.count {
            outcome.leftBehind = movable[inReach.count]...highest
            logger.debug("sequence counter left behind", metadata: [
                "parent": "\(parent)", "at": "\(current)", "past": "\(movable[inReach.count])",
            ])
        }
        guard let number = inReach.last, current <= number else { return outcome }
        while current <= number {
            // Up to 200,000 numbers take seconds: a signal stops here, with no probe standing.
            try Task.checkCancellation()
            let count = Int(min(Int64(CoordinationLimits.maxTransactionOperations), number - current + 1))
            let results = try await target.transaction(
                Array(repeating: Operation.create(probe, value: [], mode: .ephemeralSequential), count: count))
            let keys: [Key] = results.compactMap {
                if case .created(let record) = $0 { record.key } else { nil }
            }
            _ = try await target.transaction(keys.map { .delete($0, ifVersion: nil) })
            current = keys.last.flatMap { Self.sequenceNumber($0.name) } ?? Int64.max
        }
        logger.debug("sequence counter carried forward", metadata: ["parent": "\(parent)", "past": "\(number)"])
        outcome.moved = true
        return outcome
    }

    // MARK: Reading

    /// Every record at and beneath the prefix on `store`, in the configured way.
    func read(
        _ store: any CoordinationStore, mode: MigrationOptions.ReadMode, phase: MigrationProgress.Phase,
        start: ContinuousClock.Instant, counts: MigrationCounts = MigrationCounts(), progress: ProgressHandler
    ) async throws -> [Record] {
        do {
            return try await readNamingNoSide(store, mode: mode, phase: phase, start: start, counts: counts, progress: progress)
        } catch let error as CoordinationError where phase == .readingSource || phase == .readingTarget {
            throw Self.readFailure(error, phase: phase)
        }
    }

    /// `error`, met reading one side, saying which: a migration between two ZooKeepers (or two
    /// etcds) would otherwise leave the reader to guess which store was lost.
    static func readFailure(_ error: CoordinationError, phase: MigrationProgress.Phase) -> CoordinationError {
        targetFailure(error, phase == .readingSource ? "reading the source failed" : "reading the target failed")
    }

    private func readNamingNoSide(
        _ store: any CoordinationStore, mode: MigrationOptions.ReadMode, phase: MigrationProgress.Phase,
        start: ContinuousClock.Instant, counts: MigrationCounts, progress: ProgressHandler
    ) async throws -> [Record] {
        let records: [Record]
        switch mode {
        case .walk:
            var collected: [Record] = []
            for try await record in store.walk(options.prefix) {
                collected.append(record)
                if collected.count % options.progressEvery == 0 {
                    progress(MigrationProgress(
                        phase: phase, counts: counts, read: collected.count, total: 0, elapsed: ContinuousClock.now - start,
                        phaseEnded: false))
                }
            }
            // A walk stream ends quietly when the task is cancelled: a short read must not pass
            // for the whole subtree (a verify would report every key missing).
            try Task.checkCancellation()
            records = collected
        case .parallel(let width):
            records = try await ParallelTreeRead(store: store, width: max(1, width)).records(under: options.prefix) { read in
                progress(MigrationProgress(
                    phase: phase, counts: counts, read: read, total: 0, elapsed: ContinuousClock.now - start, phaseEnded: false))
            }
        }
        progress(MigrationProgress(
            phase: phase, counts: counts, read: records.count, total: 0, elapsed: ContinuousClock.now - start, phaseEnded: true))
        return records
    }

    /// The digest and version of every persistent value on `store` under the prefix, and its ephemeral keys.
    private func state(
        of store: any CoordinationStore, mode: MigrationOptions.ReadMode, phase: MigrationProgress.Phase,
        start: ContinuousClock.Instant, counts: MigrationCounts, progress: ProgressHandler
    ) async throws -> SideState {
        var result = SideState()
        for record in try await read(store, mode: mode, phase: phase, start: start, counts: counts, progress: progress) {
            if record.isEphemeral {
                result.ephemeral.insert(record.key)
            } else {
                result.persistent[record.key] = (ContentDigest.of(record.value), record.version)
            }
        }
        return result
    }

    // MARK: Verification

    /// Compares both sides' persistent keys under the prefix: key sets and value digests.
    /// - Parameters:
    ///   - limit: how many differences to list (all are counted).
    ///   - mirror: keys only on the target are differences (the target should be a mirror, as
    ///     after `--follow`); otherwise a copy leaves them alone, and they are only counted.
    public func verify(limit: Int = 20, mirror: Bool = false, progress: @escaping ProgressHandler = { _ in }) async throws -> VerificationReport {
        let start = ContinuousClock.now
        let progress: ProgressHandler = { report in
            var report = report
            report.verifying = true
            progress(report)
        }
        let from = try await state(
            of: source, mode: options.sourceReads, phase: .readingSource, start: start, counts: MigrationCounts(), progress: progress
        ).persistent.mapValues(\.digest)
        let foreign = try await foreignKeysOnSource()
        let targetState = try await state(
            of: target, mode: options.targetReads, phase: .readingTarget, start: start, counts: MigrationCounts(), progress: progress)
        let to = targetState.persistent.mapValues(\.digest)
        var differences: [MigrationDifference] = []
        var count = 0
        var onlyOnTarget: [Key] = []
        var onlyOnTargetCount = 0
        var parentsOnlyOnTarget: [Key] = []
        var parentsOnlyOnTargetCount = 0
        // The target holds the parents of the source's keys where the source lacks them (another
        // etcd tool wrote the keys without them, or deleted them alone), and a mirror keeps them:
        // no difference, since no target can do otherwise.
        let parents = Self.ancestors(of: Set(from.keys))
        for key in Set(from.keys).union(to.keys).sorted() {
            let difference: MigrationDifference?
            switch (from[key], to[key]) {
            case (.some, nil) where targetState.ephemeral.contains(key): difference = .ephemeralOnTarget(key)
            case (.some, nil): difference = .missingOnTarget(key)
            case (nil, .some) where parents.contains(key):
                parentsOnlyOnTargetCount += 1
                if parentsOnlyOnTarget.count < limit { parentsOnlyOnTarget.append(key) }
                difference = nil
            case (nil, .some) where !mirror:
                onlyOnTargetCount += 1
                if onlyOnTarget.count < limit { onlyOnTarget.append(key) }
                difference = nil
            case (nil, .some): difference = .extraOnTarget(key)
            case (.some(let a), .some(let b)) where a != b:
                difference = .differentValue(key, sourceBytes: -1, targetBytes: -1)
            default: difference = nil
            }
            guard let difference else { continue }
            count += 1
            if differences.count < limit { differences.append(difference) }
        }
        // Sizes for the listed value differences (digests alone cannot say).
        for (index, difference) in differences.enumerated() {
            if case .differentValue(let key, _, _) = difference {
                let a = try await source.get(key)?.value.count ?? 0
                let b = try await target.get(key)?.value.count ?? 0
                differences[index] = .differentValue(key, sourceBytes: a, targetBytes: b)
            }
        }
        return VerificationReport(
            sourceKeys: from.count, targetKeys: to.count, sourceDigest: Self.treeDigest(from),
            targetDigest: Self.treeDigest(to), differenceCount: count, differences: differences,
            onlyOnTarget: onlyOnTargetCount, onlyOnTargetKeys: onlyOnTarget, parentsOnlyOnTarget: parentsOnlyOnTargetCount,
            parentsOnlyOnTargetKeys: parentsOnlyOnTarget, foreignOnSource: foreign)
    }

    /// One digest of a whole subtree: each key and its value's digest, in key order.
    static func treeDigest(_ digests: [Key: ContentDigest]) -> String {
        var digest = ContentDigest()
        for (key, value) in digests.sorted(by: { $0.key < $1.key }) {
            digest.add(UInt64(key.path.utf8.count))
            digest.add(key.path.utf8)
            digest.add(value.value)
        }
        return digest.hex
    }
}
