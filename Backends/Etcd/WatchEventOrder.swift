import Coordination

/// The order of the events of one etcd revision, as the other backends deliver them.
///
/// A recursive delete is one txn, so etcd reports its deletes in one revision in the order the
/// txn named them: the key itself, then the range beneath it in byte order (where `/a/b` comes
/// before `/a/b/c`). ZooKeeper deletes a tree children first, one znode at a time, and the memory
/// store does the same in one step, so a consumer that keeps a tree would see a parent vanish
/// before its children only on etcd.
enum WatchEventOrder {
    /// `events` (of one revision) with the deletes of each deleted subtree put children first,
    /// siblings in reverse byte order (as the memory store deletes them). Deletes of unrelated keys
    /// keep their order (a transaction's order), and puts keep their places: etcd already reports
    /// a transaction's creates in its order, which is parents first because a transaction creates
    /// no ancestors.
    static func childrenFirst(_ events: [WatchEvent]) -> [WatchEvent] {
        var deleted: [Key] = []
        for event in events { if case .delete(let key) = event { deleted.append(key) } }
        guard deleted.count > 1 else { return events }
        let doomed = Set(deleted)
        // Each delete joins the group of its topmost ancestor deleted in this revision; groups keep
        // the order in which their first member came.
        var groups: [Key: [Key]] = [:]
        var groupOrder: [Key] = []
        for key in deleted {
            var top = key
            var ancestor = key.parent
            while let above = ancestor, !above.isRoot {
                if doomed.contains(above) { top = above }
                ancestor = above.parent
            }
            if groups[top] == nil { groupOrder.append(top) }
            groups[top, default: []].append(key)
        }
        guard groupOrder.count < deleted.count else { return events }
        let ordered = groupOrder.flatMap { top in groups[top]!.sorted { preorder($1, $0) } }
        var result = events
        var next = ordered.makeIterator()
        for index in result.indices {
            if case .delete = result[index] { result[index] = .delete(next.next()!) }
        }
        return result
    }

    /// Whether `lhs` comes before `rhs` in a walk of the tree that visits a key before the keys
    /// beneath it and siblings in byte order: segment by segment, bytewise.
    static func preorder(_ lhs: Key, _ rhs: Key) -> Bool {
        let (left, right) = (lhs.segments, rhs.segments)
        for (a, b) in zip(left, right) where a.utf8.elementsEqual(b.utf8) == false {
            return a.utf8.lexicographicallyPrecedes(b.utf8)
        }
        return left.count < right.count
    }
}
