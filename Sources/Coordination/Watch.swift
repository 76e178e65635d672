/// What a watch covers.
public enum WatchScope: String, Sendable, Hashable, CaseIterable, Codable {
    /// The key alone.
    case key
    /// The key and every key beneath it.
    case subtree
    /// The key and its direct children, not deeper keys: what a folder of records needs. On
    /// ZooKeeper it costs a children watch on the key alone (no children watch per child).
    case children
    /// The key, its children and their children, not deeper keys: what a folder of folders of
    /// records needs (the scheduler's bucketed job folders). On ZooKeeper it costs children
    /// watches on the key and its children alone, none on the grandchildren.
    case grandchildren
    /// The key and the keys one, two and three levels beneath it, not deeper keys: what a folder
    /// of folders of records with records beneath them needs (the scheduler's jobs with their
    /// runs, without the runs' claims). On ZooKeeper it costs children watches on the key, its
    /// children and grandchildren alone, none on the three-levels-deep keys.
    case greatGrandchildren

    /// How many levels beneath the watched key the scope reaches: 0 for the key alone, 1 for its
    /// children, 2 for its grandchildren, 3 for its great-grandchildren; nil for a whole subtree. A key at that depth is the
    /// deepest level in scope, so a backend that watches folders one by one (ZooKeeper) lists
    /// only the keys above it.
    public var depthLimit: Int? {
        switch self {
        case .key: 0
        case .children: 1
        case .grandchildren: 2
        case .greatGrandchildren: 3
        case .subtree: nil
        }
    }

    /// Whether a key is in scope of a watch on `watched`.
    public func covers(_ key: Key, watched: Key) -> Bool {
        guard let limit = depthLimit else { return key.isUnder(watched) }
        return key.isUnder(watched) && key.depth - watched.depth <= limit
    }
}

/// One element of a watch stream (contract clause 8).
///
/// A stream starts with a ``snapshot(_:)`` of everything in scope, then carries ``put(_:)`` and
/// ``delete(_:)`` events in store order. Several changes of one key may be coalesced into one
/// event (ZooKeeper does), but nothing is ever reordered. Whenever the backend cannot vouch for
/// continuity (a reconnect, an etcd compaction, a one-shot watch being re-armed) it emits a fresh
/// snapshot. A consumer that replaces its state on each snapshot and applies each event to it
/// always converges to the store's state.
public enum WatchEvent: Sendable, Hashable {
    /// Everything in scope right now, sorted by key. Replaces whatever the consumer had.
    case snapshot([Record])
    /// A key in scope was created or changed.
    case put(Record)
    /// A key in scope was deleted.
    case delete(Key)
}

extension Dictionary where Key == Coordination.Key, Value == Record {
    /// Applies one watch event, the way every consumer should.
    public mutating func apply(_ event: WatchEvent) {
        switch event {
        case .snapshot(let records):
            self = Dictionary(uniqueKeysWithValues: records.map { ($0.key, $0) })
        case .put(let record):
            self[record.key] = record
        case .delete(let key):
            self[key] = nil
        }
    }
}
