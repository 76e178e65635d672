import Coordination

/// One key as the memory store keeps it.
struct MemoryNode: Sendable {
    var value: [UInt8]
    var version: Int64
    var createRevision: Int64
    var modRevision: Int64
    /// The owning session for an ephemeral key; 0 for a persistent one.
    var owner: UInt64
    /// The children's keys. Keys, not names: `String` equality is canonical equivalence, and two
    /// names that differ only in Unicode normalization are two different children.
    var children: Set<Key>
    /// The next suffix for sequential children.
    var nextSequence: Int64

    var isEphemeral: Bool { owner != 0 }
}

/// The tree of the memory store: plain data, no locking, no sessions. Every change goes through
/// ``apply(_:namespace:)``, which applies a list of steps all or nothing under one new revision,
/// so single operations and transactions share one code path. Keys here are physical (the
/// namespace already prefixed); errors name keys relative to the caller's namespace.
struct MemoryTree: Sendable {
    /// A primitive change, on physical keys.
    enum Step {
        case check(Key, version: Int64?)
        case create(Key, value: [UInt8], mode: CreateMode, owner: UInt64)
        case set(Key, value: [UInt8], ifVersion: Int64?)
        case delete(Key, ifVersion: Int64?)
    }

    enum StepResult {
        case checked
        case created(Key, MemoryNode)
        case set(Key, MemoryNode)
        case deleted(Key)
    }

    /// What changed, in order, for watchers.
    enum Change {
        case put(Key, MemoryNode)
        case delete(Key)

        var key: Key {
            switch self {
            case .put(let key, _), .delete(let key): key
            }
        }
    }

    private(set) var nodes: [Key: MemoryNode] = [
        .root: MemoryNode(value: [], version: 0, createRevision: 0, modRevision: 0, owner: 0, children: [], nextSequence: 0)
    ]
    private(set) var revision: Int64 = 0

    func node(_ key: Key) -> MemoryNode? { nodes[key] }

    /// Moves the counter of `key`'s sequential children past `number` (no revision: no key
    /// changes). Returns whether it moved; `nil` when there is no such key.
    mutating func advanceSequence(of key: Key, past number: Int64) -> Bool? {
        guard var node = nodes[key] else { return nil }
        guard node.nextSequence <= number else { return false }
        node.nextSequence = number + 1
        nodes[key] = node
        return true
    }

    /// Applies `steps` atomically. On failure nothing changes and the error carries the index of
    /// the failing step. The changes returned leave out keys the steps created and deleted again.
    mutating func apply(_ steps: [Step], namespace: Key) throws(CoordinationError) -> (results: [StepResult], changes: [Change]) {
        let nextRevision = revision + 1
        let (results, changes, planned, transient) = try plan(steps, revision: nextRevision, namespace: namespace)
        guard !changes.isEmpty else { return (results, changes) }
        var writes = planned
        // The overlay's reference to `nodes` is gone by now, so these writes mutate the
        // dictionary in place instead of copying every key, and the children sets in place
        // (once the written copies are dropped) instead of copying a folder's whole set per child
        // created or deleted.
        for (key, node) in writes.changed {
            nodes[key] = node
        }
        writes.changed = [:]
        for (parent, delta) in writes.childChanges {
            nodes[parent]?.children.subtract(delta.removed)
            nodes[parent]?.children.formUnion(delta.added)
        }
        revision = nextRevision
        // A key created and deleted again by these steps existed for no reader: watchers hear
        // nothing of it, as on ZooKeeper (which reads after the fact) and etcd (one event per key
        // and revision). Its steps still count: a revision, a sequence number.
        return (results, transient.isEmpty ? changes : changes.filter { !transient.contains($0.key) })
    }

    /// Plays `steps` on an overlay of the tree; nothing is written.
    private func plan(
        _ steps: [Step], revision: Int64, namespace: Key
    ) throws(CoordinationError) -> (results: [StepResult], changes: [Change], writes: Overlay.Writes, transient: Set<Key>) {
        var overlay = Overlay(base: nodes)
        var results: [StepResult] = []
        var changes: [Change] = []
        for (index, step) in steps.enumerated() {
            do {
                let result = try overlay.apply(step, revision: revision, namespace: namespace)
                results.append(result)
                switch result {
                case .checked: break
                case .created(let key, let node), .set(let key, let node): changes.append(.put(key, node))
                case .deleted(let key): changes.append(.delete(key))
                }
            } catch {
                var failed = error
                failed.failedOperation = index
                throw failed
            }
        }
        // Deleted but absent before and after: a key these steps both created and deleted.
        var transient: Set<Key> = []
        for case .delete(let key) in changes where overlay.base[key] == nil && overlay.node(key) == nil {
            transient.insert(key)
        }
        return (results, changes, overlay.writes, transient)
    }

    /// Physical keys at and beneath `key`, parents first, siblings in byte order.
    func subtree(_ key: Key) -> [Key] {
        guard nodes[key] != nil else { return [] }
        var result: [Key] = []
        var stack = [key]
        while let next = stack.popLast() {
            result.append(next)
            guard let node = nodes[next] else { continue }
            stack.append(contentsOf: node.children.sorted().reversed())
        }
        return result
    }

    /// Ephemeral keys owned by `owner`, deepest first (so deleting them in order never hits `notEmpty`).
    func ephemerals(of owner: UInt64) -> [Key] {
        nodes.filter { $0.value.owner == owner }.map(\.key).sorted { $0.depth > $1.depth }
    }
}

/// The changes of one transaction in progress, on top of the committed tree.
///
/// A node's children are not copied into the overlay: a folder of many keys would have its whole
/// set copied for each child created or deleted. Children created and deleted are kept apart
/// instead (``Writes/childChanges``) and applied to the committed sets in place.
struct Overlay {
    struct ChildChange {
        var added: Set<Key> = []
        var removed: Set<Key> = []
    }

    /// What a transaction writes: nodes (their `children` as committed) and child changes.
    struct Writes {
        var changed: [Key: MemoryNode?] = [:]
        var childChanges: [Key: ChildChange] = [:]
    }

    let base: [Key: MemoryNode]
    private(set) var writes = Writes()

    /// The node with its children as committed (without this transaction's child changes).
    func node(_ key: Key) -> MemoryNode? {
        if let entry = writes.changed[key] { return entry }
        return base[key]
    }

    /// Whether the node has children, this transaction's child changes included.
    private func hasChildren(_ key: Key, _ node: MemoryNode) -> Bool {
        guard let change = writes.childChanges[key] else { return !node.children.isEmpty }
        // `added` never holds a committed child and `removed` only committed ones.
        return node.children.count + change.added.count - change.removed.count > 0
    }

    private mutating func addChild(_ child: Key, to parent: Key) {
        if writes.childChanges[parent]?.removed.remove(child) == nil {
            writes.childChanges[parent, default: ChildChange()].added.insert(child)
        }
    }

    private mutating func removeChild(_ child: Key, from parent: Key) {
        if writes.childChanges[parent]?.added.remove(child) == nil {
            writes.childChanges[parent, default: ChildChange()].removed.insert(child)
        }
    }

    mutating func apply(_ step: MemoryTree.Step, revision: Int64, namespace: Key) throws(CoordinationError) -> MemoryTree.StepResult {
        func shown(_ key: Key) -> Key { key.relative(to: namespace) ?? key }
        switch step {
        case .check(let key, let version):
            guard let node = node(key) else { throw .noNode(shown(key)) }
            if let version, node.version != version {
                throw .versionConflict(shown(key), expected: version, actual: node.version)
            }
            return .checked

        case .create(let requested, let value, let mode, let owner):
            guard let parentKey = requested.parent, var parent = node(parentKey) else {
                throw CoordinationError(
                    .noNode,
                    "cannot create \(shown(requested)): its parent \(shown(requested.parent ?? .root)) does not exist"
                        + " (a transaction creates no ancestors)",
                    key: shown(requested))
            }
            if parent.isEphemeral { throw .ephemeralChildren(shown(parentKey)) }
            var key = requested
            if mode.isSequential {
                // A name a plain key already holds is skipped, as etcd's counter skips it: a
                // sequential create never fails for it (clause 6).
                repeat {
                    let numbered = parentKey.appending(storedName: requested.name + Key.sequenceSuffix(parent.nextSequence))
                    parent.nextSequence += 1
                    // The limit applies to the key as the user sees it, without the namespace.
                    guard let numbered, (try? Key(shown(numbered).path)) != nil else {
                        throw CoordinationError(
                            .invalidKey, "sequential key \(shown(requested))… would be longer than \(CoordinationLimits.maxKeyBytes) bytes",
                            key: shown(requested))
                    }
                    key = numbered
                } while node(key) != nil
            }
            if node(key) != nil { throw .nodeExists(shown(key)) }
            let created = MemoryNode(
                value: value, version: 0, createRevision: revision, modRevision: revision,
                owner: mode.isEphemeral ? owner : 0, children: [], nextSequence: 0)
            if mode.isSequential { writes.changed[parentKey] = parent }
            addChild(key, to: parentKey)
            writes.changed[key] = created
            return .created(key, created)

        case .set(let key, let value, let ifVersion):
            guard var node = node(key) else { throw .noNode(shown(key)) }
            if let ifVersion, node.version != ifVersion {
                throw .versionConflict(shown(key), expected: ifVersion, actual: node.version)
            }
            node.value = value
            node.version += 1
            node.modRevision = revision
            writes.changed[key] = node
            return .set(key, node)

        case .delete(let key, let ifVersion):
            guard let node = node(key) else { throw .noNode(shown(key)) }
            if let ifVersion, node.version != ifVersion {
                throw .versionConflict(shown(key), expected: ifVersion, actual: node.version)
            }
            if hasChildren(key, node) { throw .notEmpty(shown(key)) }
            if let parentKey = key.parent, self.node(parentKey) != nil { removeChild(key, from: parentKey) }
            // Gone with no children left: a node created again here starts with none.
            writes.childChanges[key] = nil
            writes.changed[key] = .some(nil)
            return .deleted(key)
        }
    }
}
