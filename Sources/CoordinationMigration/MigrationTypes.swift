public import Coordination
import Synchronization

/// How a ``StoreMigration`` reads, writes and reports.
public struct MigrationOptions: Sendable {
    /// The subtree to copy, relative to both stores' namespaces; the root copies the whole namespace.
    public var prefix: Key = .root
    /// Plan only: read both sides and count what would be written, write nothing.
    public var dryRun = false
    /// Transactions (or single writes) in flight at once.
    public var concurrency = 16
    /// Creates or sets per transaction (at most ``CoordinationLimits/maxTransactionOperations``).
    public var batchSize = 64
    /// How the source is read.
    public var sourceReads: ReadMode = .walk
    /// How the target is read (to plan, and to verify).
    public var targetReads: ReadMode = .walk
    /// Report progress after this many keys (and at the end of every phase).
    public var progressEvery = 256

    /// How a store's subtree is read.
    public enum ReadMode: Sendable, Hashable {
        /// The store's own ``CoordinationStore/walk(_:)``: one range read on etcd.
        case walk
        /// Level by level, up to `width` keys at once (a `get` and a `children` each). Faster where
        /// the store's walk is the generic one-key-at-a-time ``TreeWalk`` (ZooKeeper).
        case parallel(width: Int)
    }

    /// The defaults suit the embedded store and etcd; for a ZooKeeper side, `.parallel(width: 64)`
    /// reads several times faster.
    public init(prefix: Key = .root, dryRun: Bool = false) {
        self.prefix = prefix
        self.dryRun = dryRun
    }
}

/// What a migration did (or, in a dry run, would do).
public struct MigrationCounts: Sendable, Hashable {
    /// Persistent keys read from the source under the prefix.
    public var sourceKeys = 0
    /// Keys created on the target, or overwritten because their value differed.
    public var copied = 0
    /// Keys already on the target with the same value: left alone.
    public var identical = 0
    /// Ephemeral keys on the source: never copied (live clients re-create them).
    public var ephemeral = 0
    /// Keys deleted on the target because they were deleted on the source (``StoreMigration/follow(progress:)`` only).
    public var deleted = 0
    /// Parents whose sequential counter was checked on the target.
    public var countersChecked = 0
    /// Parents whose sequential counter had to be moved past their copied children's numbers
    /// (those within reach: see ``countersLeftBehind``).
    public var countersAdvanced = 0
    /// Parents whose counter stays behind some of their copied children's numbers: those more
    /// than ``StoreMigration/maxProbedGap`` above where it stood, on a target that cannot move it
    /// at once (names that only look sequential, such as timestamps, make such gaps), or the last
    /// 10-digit number. Their counter still moved past the numbers below those, so such a parent
    /// may be counted in ``countersAdvanced`` too.
    public var countersLeftBehind = 0
    /// The first of those in key order (at most ``listedKeys``), each with the numbers left behind.
    public var countersLeftBehindUnder: [CounterLeftBehind] = []

    /// A parent whose sequential counter stays behind some copied children's numbers.
    public struct CounterLeftBehind: Sendable, Hashable {
        /// The key whose children carry the numbers.
        public var parent: Key
        /// The lowest copied number the counter stays behind.
        public var lowest: Int64
        /// The highest number among the parent's copied children's names.
        public var highest: Int64
    }
    /// Persistent source keys not copied because the target holds an ephemeral key (a live
    /// session's) at their path or above it: that key is never overwritten, adopted or deleted.
    public var heldByEphemeral = 0
    /// The first of those keys in key order (at most ``listedKeys``).
    public var heldByEphemeralKeys: [Key] = []
    /// Of ``copied``, the keys whose different value on the target was overwritten.
    public var overwritten = 0
    /// The first of those keys in key order (at most ``listedKeys``).
    public var overwrittenKeys: [Key] = []
    /// Source keys not copied because the target can never hold them (a key another tool wrote
    /// that no ``Key`` can name, a value over the portable limit): running again cannot help.
    public var skipped = 0
    /// The first of those in byte order of their paths (at most ``listedSkipped``), each with why.
    public var skippedKeys: [SkippedKey] = []
    /// How many keys the counts list by name.
    public static let listedKeys = 5
    /// How many skipped keys are listed: each needs someone's decision, so more are shown.
    public static let listedSkipped = 20

    /// A source key that cannot be copied, and why.
    public struct SkippedKey: Sendable, Hashable {
        /// The path relative to the namespace, as the source holds it (it may be no valid ``Key``).
        public var path: String
        /// Why, as the write would have failed (the error's message).
        public var reason: String
        /// `invalidKey` or `valueTooLarge`: what a write would have failed with.
        public var code: CoordinationError.Code
    }

    /// Counts `key` as held by an ephemeral key on the target.
    mutating func hold(_ key: Key) {
        heldByEphemeral += 1
        Self.keepFirst(key, in: &heldByEphemeralKeys, at: Self.listedKeys) { $0 < $1 }
    }

    /// Counts a parent whose counter stays behind the copied numbers in `numbers`.
    mutating func leaveCounter(under parent: Key, behind numbers: ClosedRange<Int64>) {
        countersLeftBehind += 1
        let item = CounterLeftBehind(parent: parent, lowest: numbers.lowerBound, highest: numbers.upperBound)
        Self.keepFirst(item, in: &countersLeftBehindUnder, at: Self.listedKeys) {
            $0.parent < $1.parent
        }
    }

    /// Counts `key` as copied over a different value.
    mutating func overwrite(_ key: Key) {
        overwritten += 1
        Self.keepFirst(key, in: &overwrittenKeys, at: Self.listedKeys) { $0 < $1 }
    }

    /// Counts a source key that the target cannot hold.
    mutating func skip(_ path: String, _ error: CoordinationError) {
        skipped += 1
        Self.keepFirst(SkippedKey(path: path, reason: error.message, code: error.code), in: &skippedKeys, at: Self.listedSkipped) {
            $0.path.utf8.lexicographicallyPrecedes($1.path.utf8)
        }
    }

    /// Keeps in `list` the first `limit` of all the items it is given, in `order`: the same
    /// ones listed whatever order concurrent batches reported them in.
    private static func keepFirst<T>(_ item: T, in list: inout [T], at limit: Int, by order: (T, T) -> Bool) {
        let index = list.firstIndex { order(item, $0) } ?? list.endIndex
        guard index < limit else { return }
        list.insert(item, at: index)
        if list.count > limit { list.removeLast() }
    }

    package init() {}

    /// Keys written or found identical so far.
    public var done: Int { copied + identical }
}

/// A progress report: emitted during each phase and at its end.
public struct MigrationProgress: Sendable {
    /// What the migration is doing; the raw value names it for people.
    public enum Phase: String, Sendable {
        case readingSource = "reading source"
        case readingTarget = "reading target"
        case writing
        case counters = "sequence counters"
        case following
    }
    public var phase: Phase
    /// What has been written so far (empty while only reading).
    public var counts: MigrationCounts
    /// Keys read in a reading phase.
    public var read: Int
    /// Keys the writing phase has to process (persistent source keys).
    public var total: Int
    /// Time since the migration started.
    public var elapsed: Duration
    /// `true` for the last report of a phase.
    public var phaseEnded: Bool
    /// `true` for the report sent when a run stops on an error or a cancellation: its counts are
    /// what was done until then.
    public var stopped = false
    /// `true` for the reads of ``StoreMigration/verify(limit:mirror:progress:)``, not a copy's.
    public var verifying = false
    /// In a `following` report after the first snapshot: source keys that this event (or this
    /// re-snapshot) left unmirrored because the target cannot hold them (a value grown past the
    /// limit), while the target keeps what it had. Each is reported once, until it is mirrored
    /// again or deleted on the source.
    public var notMirrored: [MigrationCounts.SkippedKey] = []
}

/// The outcome of ``StoreMigration/run(mirror:progress:)``.
public struct MigrationReport: Sendable {
    public var counts: MigrationCounts
    /// From the start of the run to the end of the last phase.
    public var elapsed: Duration
    /// Whether the run was a dry run, whose counts say what would have been written.
    public var dryRun: Bool
    /// With `mirror`: the keys deleted on the target because the source does not have them,
    /// deepest first.
    public var deletedKeys: [Key] = []
    /// When each phase ended, from the start (reading the source overlaps writing).
    public var phases: [(phase: MigrationProgress.Phase, endedAt: Duration)] = []
    /// Source keys handled per second (copied + identical + ephemeral).
    public var keysPerSecond: Double {
        let seconds = Double(elapsed.components.seconds) + Double(elapsed.components.attoseconds) / 1e18
        return seconds > 0 ? Double(counts.done + counts.ephemeral) / seconds : 0
    }
}

/// One way the two sides differ.
public enum MigrationDifference: Sendable, Hashable, CustomStringConvertible {
    case missingOnTarget(Key)
    case extraOnTarget(Key)
    case differentValue(Key, sourceBytes: Int, targetBytes: Int)
    /// Persistent on the source, an ephemeral key of a live session on the target.
    case ephemeralOnTarget(Key)

    /// The key that differs.
    public var key: Key {
        switch self {
        case .missingOnTarget(let key), .extraOnTarget(let key), .differentValue(let key, _, _), .ephemeralOnTarget(let key): key
        }
    }

    /// One line for people, naming the key.
    public var description: String {
        switch self {
        case .missingOnTarget(let key): "missing on target: \(key)"
        case .extraOnTarget(let key): "only on target: \(key)"
        case .differentValue(let key, let s, let t): "different value: \(key) (source \(s) bytes, target \(t) bytes)"
        case .ephemeralOnTarget(let key): "ephemeral on target (a live session's key, never overwritten): \(key)"
        }
    }
}

/// The outcome of ``StoreMigration/verify(limit:mirror:progress:)``: both sides' persistent keys
/// under the prefix, compared key by key (set of keys, and a digest of each value).
public struct VerificationReport: Sendable {
    /// Persistent keys under the prefix on the source.
    public var sourceKeys: Int
    /// Persistent keys under the prefix on the target.
    public var targetKeys: Int
    /// A digest of the whole subtree on each side (keys and values, in key order): equal when the sides are.
    public var sourceDigest: String
    public var targetDigest: String
    /// How many keys differ in all (keys only on the target count only when they are
    /// differences, as after `--follow`, whose target is a mirror).
    public var differenceCount: Int
    /// The first differences, in key order.
    public var differences: [MigrationDifference]
    /// Keys only on the target, when they are no difference (a copy leaves them alone).
    public var onlyOnTarget = 0
    /// The first of those, in key order.
    public var onlyOnTargetKeys: [Key] = []
    /// Parents of source keys that only the target has: the source holds keys without their
    /// parents (etcd needs none, and another etcd client wrote them so), and the target needs
    /// them. Never a difference, and never ``onlyOnTarget``: a mirror keeps them too.
    public var parentsOnlyOnTarget = 0
    /// The first of those, in key order.
    public var parentsOnlyOnTargetKeys: [Key] = []
    /// Source keys that no ``Key`` can name (another tool wrote them): never read, never copied,
    /// so the sides cannot be called identical.
    public var foreignOnSource: [String] = []
    /// No difference, and nothing on the source that could not be read.
    public var isClean: Bool { differenceCount == 0 && foreignOnSource.isEmpty }
}

/// What ``StoreMigration/follow(progress:)`` did before it was cancelled.
public struct FollowReport: Sendable {
    /// Everything written, the initial copy included.
    public var counts: MigrationCounts
    /// Watch events applied to the target after the first snapshot.
    public var events = 0
    /// Snapshots after the first (the source's watch lost continuity and was re-synchronised).
    public var resnapshots = 0
    /// The persistent keys the target mirrors when the follow stopped (the source's, as far as
    /// the events applied so far tell).
    public var mirrored: Set<Key> = []
    /// The longest time between an event (or a later snapshot) arriving and its write on the
    /// target finishing; the initial copy does not count.
    public var maxApplyDelay: Duration = .zero
}

/// A 64-bit FNV-1a digest: detects accidental differences (lost or altered bytes), not tampering.
/// No cryptographic hash is available without a new dependency, and none is needed to compare two
/// copies the migration itself made.
struct ContentDigest: Hashable, Sendable {
    private(set) var value: UInt64 = 0xcbf2_9ce4_8422_2325

    mutating func add(_ bytes: some Sequence<UInt8>) {
        for byte in bytes {
            value ^= UInt64(byte)
            value = value &* 0x0000_0100_0000_01b3
        }
    }

    mutating func add(_ number: UInt64) {
        withUnsafeBytes(of: number.littleEndian) { add($0) }
    }

    static func of(_ bytes: [UInt8]) -> ContentDigest {
        var digest = ContentDigest()
        digest.add(UInt64(bytes.count))
        digest.add(bytes)
        return digest
    }

    var hex: String {
        let text = String(value, radix: 16)
        return String(repeating: "0", count: 16 - text.count) + text
    }
}

/// Collects when each phase ended, from progress reports.
final class PhaseTimes: Sendable {
    private let state = Mutex<[(phase: MigrationProgress.Phase, endedAt: Duration)]>([])

    func ended(_ phase: MigrationProgress.Phase, at elapsed: Duration) {
        state.withLock { $0.append((phase, elapsed)) }
    }

    var ends: [(phase: MigrationProgress.Phase, endedAt: Duration)] { state.withLock { $0 } }
}
