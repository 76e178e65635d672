import Coordination
import CoordinationMemory

/// A random program of operations played on the store under test and on the embedded store side
/// by side, one operation at a time: each must give the same outcome (the same records, the same
/// error code, the same failing operation of a transaction), and every few steps the two trees
/// must hold the same records. Checks written one clause at a time miss what only a sequence
/// reaches (a parent deleted then created again, an ephemeral parent, a transaction that fails on
/// its third operation after creating a parent); this finds it, and its seed replays it.
///
/// Backends number sequential keys differently (ZooKeeper counts every child change), so a
/// sequential key is compared by a canonical name given in creation order: both stores hand out
/// names that sort in creation order, so the canonical names sort the same way.
struct DifferentialProgram {
    let seed: UInt64
    let steps: Int
    /// Every how many steps the trees are compared (and after the last).
    let treeEvery = 20

    /// The program's keys: `/d` and up to three levels of `a`, `b` and `c` beneath it.
    private static let names = ["a", "b", "c"]
    private static let sequentialPrefixes = ["s-", "a-"]
    private static let values: [[UInt8]] = [[], Array("x".utf8), Array("yy".utf8), [0, 255]]
    static let top = try! Key("/d")

    /// The namespace of the third handle, relative to the check's: a key of the program there.
    static let nested = try! Key("/d/a")
    /// Each handle's namespace, relative to the check's.
    static let namespaces: [Key] = [.root, .root, nested]
    /// What the watches cover: every scope, on keys the program creates and deletes (`/d/b/c`
    /// is absent more often than not, and `/d/a` is also the third handle's namespace). The
    /// grandchildren of `/d` have children of their own, which that watch must leave out, as the
    /// great-grandchildren watch of `/` must leave out theirs.
    static let watched: [(key: Key, scope: WatchScope)] = [
        (top, .subtree), (top, .children), (top, .grandchildren), (.root, .greatGrandchildren), (nested, .key), (nested, .children),
        (nested, .grandchildren), (try! Key("/d/b/c"), .subtree),
    ]

    /// Plays the program on three handles of each store, the third opened at ``nested`` (so it
    /// sees the keys beneath it as its own tree). Now and then a handle is closed and opened
    /// again, or its session expires (so ephemeral keys go with their session), and watches of
    /// every scope (``watched``) on a fourth handle of the store under test, whose session also
    /// expires now and then, must converge to the embedded store's records at every comparison.
    func run(_ ctx: CheckContext) async throws {
        let backend = ctx.backendName
        let server = MemoryServer()
        var reference: [MemoryStore] = []
        var tested: [any CoordinationStore] = []
        defer {
            let handles = reference
            Task { for handle in handles { await handle.close() } }
        }
        for namespace in Self.namespaces where namespace.isRoot {
            reference.append(try await server.connect(namespace: namespace))
            tested.append(try await ctx.open(namespace))
        }
        _ = try await tested[0].create(Self.top, value: [], mode: .persistent)
        _ = try await reference[0].create(Self.top, value: [], mode: .persistent)
        // Opening a handle at a namespace creates the namespace's key if it is missing.
        for namespace in Self.namespaces where !namespace.isRoot {
            reference.append(try await server.connect(namespace: namespace))
            tested.append(try await ctx.open(namespace))
        }
        var generator = SplitMix64(seed: seed)
        var sides = (reference: SequentialNames(), tested: SequentialNames())
        var canonicalCount = 0
        let watching = try await ctx.open()
        var watches: [Watched] = []
        for (key, scope) in Self.watched {
            let cursor = ctx.watch(watching, key, scope: scope)
            _ = try await cursor.snapshot()
            watches.append(Watched(key: key, scope: scope, cursor: cursor))
        }

        for index in 1...steps {
            let handle = Int.random(in: 0..<Self.namespaces.count, using: &generator)
            let base = Self.namespaces[handle]
            // About one step in 40 closes a handle and one in 120 expires a session (the slower
            // event on etcd, whose handle learns of it at its next keep-alive).
            switch Int.random(in: 0..<120, using: &generator) {
            case 0..<3:
                // The watches must first show what the handle holds. ZooKeeper's close returns once
                // the request is sent, not once the server has removed the session's ephemerals:
                // a watch that had not yet caught up with an ephemeral's creation matched the
                // embedded store (which had removed it) while a walk still found it on the server.
                try await compareTrees(reference[0], tested[0], watches, sides, after: "step \(index) (before handle \(handle) closes)", backend: backend)
                await reference[handle].close()
                reference[handle] = try await server.connect(namespace: base)
                await tested[handle].close()
                tested[handle] = try await ctx.open(base)
                try await compareTrees(reference[0], tested[0], watches, sides, after: "step \(index) (handle \(handle) closed)", backend: backend)
                continue
            case 3 where Int.random(in: 0..<4, using: &generator) == 0:
                // The watching handle's session expires: every watch must start over from a fresh
                // snapshot (its one-shot watches on ZooKeeper, or its lease on etcd, are gone).
                let events = ctx.sessionEvents(watching)
                _ = try await events.next("the current session state")
                try await ctx.harness.expireSession(of: watching)
                _ = try await events.until(.expired)
                _ = try await events.until(.connected)
                try await compareTrees(reference[0], tested[0], watches, sides, after: "step \(index) (the watching handle expired)", backend: backend)
                continue
            case 3:
                // Its session expires, as the server would end it; the handle starts a new one.
                let events = ctx.sessionEvents(tested[handle])
                _ = try await events.next("the current session state")
                try await ctx.harness.expireSession(of: tested[handle])
                _ = try await events.until(.expired)
                _ = try await events.until(.connected)
                await reference[handle].expireSession()
                try await compareTrees(reference[0], tested[0], watches, sides, after: "step \(index) (handle \(handle) expired)", backend: backend)
                continue
            default:
                break
            }
            let pickableOnBoth = Set(sides.tested.pickable)
            let step = Step.random(using: &generator, sequentialKeys: sides.reference.pickable.filter(pickableOnBoth.contains))
                .rebased(under: base)
            let expected = await step.outcome(on: reference[handle], HandleView(names: sides.reference, base: base))
            let actual = await step.outcome(on: tested[handle], HandleView(names: sides.tested, base: base))
            // Name the sequential keys each side created, in the same order on both.
            for (created, tested) in zip(expected.createdSequential, actual.createdSequential) {
                canonicalCount += 1
                let canonical = try created.parent!.child(created.name.dropLast(CoordinationLimits.sequenceDigits) + String(canonicalCount + 1_000_000))
                sides.reference.name(created, canonical)
                sides.tested.name(tested, canonical)
            }
            let expectedText = expected.normalized(sides.reference)
            let actualText = actual.normalized(sides.tested)
            guard expectedText == actualText else {
                throw failure(
                    "seed \(seed), step \(index), handle \(handle): \(step.description(sides.reference)): the embedded store gave \(expectedText), \(backend) gave \(actualText)")
            }
            if index % treeEvery == 0 || index == steps {
                try await compareTrees(reference[0], tested[0], watches, sides, after: "step \(index)", backend: backend)
            }
        }
    }

    /// A watch of the program's keys on the store under test.
    private struct Watched {
        let key: Key
        let scope: WatchScope
        let cursor: WatchCursor

        /// Whether the watch covers `key`.
        func covers(_ key: Key) -> Bool {
            switch scope {
            case .key: key == self.key
            case .children: key == self.key || key.parent == self.key
            case .grandchildren: key == self.key || key.parent == self.key || key.parent?.parent == self.key
            case .greatGrandchildren:
                key == self.key || key.parent == self.key || key.parent?.parent == self.key || key.parent?.parent?.parent == self.key
            case .subtree: key == self.key || key.isUnder(self.key)
            }
        }
    }

    /// The records under ``top``: first as each watch shows them once it has caught up (a closed
    /// handle's ephemeral keys may take a moment to go), then as a walk reads them.
    private func compareTrees(
        _ reference: any CoordinationStore, _ tested: any CoordinationStore, _ watches: [Watched],
        _ sides: (reference: SequentialNames, tested: SequentialNames), after: String, backend: String
    ) async throws {
        let referenceRecords = try await reference.records(under: Self.top)
        let expectedTree = Self.normalized(referenceRecords, sides.reference)
        func differences(_ expected: [String], _ actual: [String]) -> String {
            "only in the embedded store: \(expected.filter { !actual.contains($0) }), only on \(backend): \(actual.filter { !expected.contains($0) })"
        }
        for watch in watches {
            let expected = Self.normalized(referenceRecords.filter { watch.covers($0.key) }, sides.reference)
            let what = "the watch of \(watch.key) (\(watch.scope.rawValue))"
            do {
                try await watch.cursor.until("\(what) to show the embedded store's records") { state in
                    Self.normalized(Array(state.values), sides.tested) == expected
                }
            } catch {
                let watched = Self.normalized(Array(watch.cursor.state.values), sides.tested)
                let walked = Self.normalized(try await tested.records(under: Self.top).filter { watch.covers($0.key) }, sides.tested)
                throw failure(
                    "seed \(seed), after \(after): \(what) on \(backend) did not come to the embedded store's records (\(error)); watched: \(differences(expected, watched)); walked: \(differences(expected, walked))")
            }
        }
        let actualTree = Self.normalized(try await tested.records(under: Self.top), sides.tested)
        guard expectedTree == actualTree else {
            throw failure("seed \(seed), after \(after): the trees differ; \(differences(expectedTree, actualTree))")
        }
    }

    /// Records normalized, in canonical key order.
    private static func normalized(_ records: [Record], _ names: SequentialNames) -> [String] {
        records.map { Outcome.normalized($0, names) }.sorted()
    }
}

extension DifferentialProgram {
    /// One operation of the program, on canonical keys.
    enum Step {
        case get(Key), exists(Key), children(Key), walk(Key)
        case create(Key, [UInt8], CreateMode)
        case set(Key, [UInt8], Int64?)
        case delete(Key, Int64?, recursive: Bool)
        case transaction([Operation])

        static func random(using generator: inout SplitMix64, sequentialKeys: [Key]) -> Step {
            func key(sequential: Bool = true) -> Key {
                if sequential && !sequentialKeys.isEmpty && Int.random(in: 0..<5, using: &generator) == 0 {
                    return sequentialKeys.randomElement(using: &generator)!
                }
                var key = DifferentialProgram.top
                for _ in 0..<Int.random(in: 1...3, using: &generator) {
                    key = try! key.child(DifferentialProgram.names.randomElement(using: &generator)!)
                }
                return key
            }
            func value() -> [UInt8] { DifferentialProgram.values.randomElement(using: &generator)! }
            func version() -> Int64? { [nil, nil, 0, 1, 2].randomElement(using: &generator)! }
            func create() -> (Key, CreateMode) {
                let mode: CreateMode = [.persistent, .persistent, .ephemeral, .sequential, .ephemeralSequential].randomElement(using: &generator)!
                // Never a plain key named like a generated one: backends number differently, so
                // where such a key falls among the generated ones is theirs to differ on.
                var target = key(sequential: false)
                if mode.isSequential {
                    target = try! (target.parent ?? DifferentialProgram.top).child(DifferentialProgram.sequentialPrefixes.randomElement(using: &generator)!)
                }
                return (target, mode)
            }
            switch Int.random(in: 0..<100, using: &generator) {
            case 0..<8: return .get(key())
            case 8..<12: return .exists(key())
            case 12..<17: return .children(key())
            case 17..<20: return .walk(key())
            case 20..<48:
                let (target, mode) = create()
                return .create(target, value(), mode)
            case 48..<62: return .set(key(), value(), version())
            case 62..<76: return .delete(key(), version(), recursive: Int.random(in: 0..<4, using: &generator) == 0)
            default:
                // Distinct keys: etcd refuses a transaction that writes one key twice (a listed deviation).
                var operations: [Operation] = []
                var used = Set<Key>()
                for _ in 0..<Int.random(in: 1...5, using: &generator) {
                    let operation: Operation
                    switch Int.random(in: 0..<4, using: &generator) {
                    case 0: operation = .check(key(), version: version())
                    case 1:
                        let (target, mode) = create()
                        operation = .create(target, value: value(), mode: mode)
                    case 2: operation = .set(key(), value: value(), ifVersion: version())
                    default: operation = .delete(key(), ifVersion: version())
                    }
                    if operation.isSequentialCreate || used.insert(operation.key).inserted { operations.append(operation) }
                }
                return .transaction(operations)
            }
        }

        func outcome(on store: any CoordinationStore, _ view: HandleView) async -> Outcome {
            do {
                switch self {
                case .get(let key): return .record(try await store.get(view.send(key)).map(view.absolute))
                case .exists(let key): return .flag(try await store.exists(view.send(key)))
                case .children(let key):
                    let children = try await store.children(of: view.send(key))
                    return .names(view.absolute(view.send(key)), children)
                case .walk(let key):
                    return .walked(try await store.records(under: view.send(key)).map(view.absolute))
                case .create(let key, let value, let mode):
                    return .created(view.absolute(try await store.create(view.send(key), value: value, mode: mode)), sequential: mode.isSequential)
                case .set(let key, let value, let version):
                    return .record(view.absolute(try await store.set(view.send(key), value: value, ifVersion: version)))
                case .delete(let key, let version, let recursive):
                    try await store.delete(view.send(key), ifVersion: version, recursive: recursive)
                    return .done
                case .transaction(let operations):
                    let results = try await store.transaction(operations.map { $0.sent(view) })
                    return .results(results.map { result in
                        switch result {
                        case .created(let record): .created(view.absolute(record))
                        case .set(let record): .set(view.absolute(record))
                        case .checked, .deleted: result
                        }
                    }, sequential: operations.map(\.isSequentialCreate))
                }
            } catch let error as CoordinationError {
                return .failed(error.code, operation: error.failedOperation)
            } catch {
                return .unexpected("\(error)")
            }
        }

        /// The step for a handle at `base`: every key moved from beneath ``top`` to beneath `base`.
        func rebased(under base: Key) -> Step {
            guard !base.isRoot else { return self }
            func move(_ key: Key) -> Key { key.relative(to: DifferentialProgram.top).map(base.appending) ?? key }
            switch self {
            case .get(let key): return .get(move(key))
            case .exists(let key): return .exists(move(key))
            case .children(let key): return .children(move(key))
            case .walk(let key): return .walk(move(key))
            case .create(let key, let value, let mode): return .create(move(key), value, mode)
            case .set(let key, let value, let version): return .set(move(key), value, version)
            case .delete(let key, let version, let recursive): return .delete(move(key), version, recursive: recursive)
            case .transaction(let operations):
                return .transaction(operations.map { operation in
                    switch operation {
                    case .check(let key, let version): .check(move(key), version: version)
                    case .create(let key, let value, let mode): .create(move(key), value: value, mode: mode)
                    case .set(let key, let value, let version): .set(move(key), value: value, ifVersion: version)
                    case .delete(let key, let version): .delete(move(key), ifVersion: version)
                    }
                })
            }
        }

        func description(_ names: SequentialNames) -> String {
            switch self {
            case .get(let key): "get \(key)"
            case .exists(let key): "exists \(key)"
            case .children(let key): "children of \(key)"
            case .walk(let key): "walk of \(key)"
            case .create(let key, let value, let mode): "create \(key) (\(mode), \(value.count) bytes)"
            case .set(let key, let value, let version): "set \(key) to \(value.count) bytes if at version \(version.map(String.init) ?? "any")"
            case .delete(let key, let version, let recursive): "delete \(key)\(recursive ? " recursively" : "") if at version \(version.map(String.init) ?? "any")"
            case .transaction(let operations): "transaction [\(operations.map(\.programText).joined(separator: "; "))]"
            }
        }
    }

    /// What one operation gave, before normalization.
    enum Outcome {
        case record(Record?)
        case created(Record, sequential: Bool)
        case flag(Bool)
        case names(Key, [String])
        case walked([Record])
        case results([OperationResult], sequential: [Bool])
        case done
        case failed(CoordinationError.Code, operation: Int?)
        case unexpected(String)

        /// The sequential keys it created, in order.
        var createdSequential: [Key] {
            switch self {
            case .created(let record, true): return [record.key]
            case .results(let results, let sequential):
                return zip(results, sequential).compactMap { result, isSequential in
                    guard isSequential, case .created(let record) = result else { return nil }
                    return record.key
                }
            default: return []
            }
        }

        /// Comparable text: canonical keys, values, versions and the ephemeral flag (revisions
        /// differ from store to store by design).
        func normalized(_ names: SequentialNames) -> String {
            switch self {
            case .record(let record): return record.map { Self.normalized($0, names) } ?? "absent"
            case .created(let record, _): return "created " + Self.normalized(record, names)
            case .flag(let flag): return "\(flag)"
            case .names(let parent, let children):
                return "children " + children.map { names.canonical((try? parent.child($0)) ?? parent).name }.joined(separator: ",")
            case .results(let results, _):
                return "results " + results.map { result in
                    switch result {
                    case .checked: "checked"
                    case .deleted: "deleted"
                    case .created(let record): "created " + Self.normalized(record, names)
                    case .set(let record): "set " + Self.normalized(record, names)
                    }
                }.joined(separator: "; ")
            case .walked(let records): return "records " + records.map { Self.normalized($0, names) }.sorted().joined(separator: "; ")
            case .done: return "done"
            case .failed(let code, let operation): return "\(code)" + (operation.map { " at operation \($0)" } ?? "")
            case .unexpected(let text): return "unexpected error \(text)"
            }
        }

        static func normalized(_ record: Record, _ names: SequentialNames) -> String {
            "\(names.canonical(record.key)) v\(record.version) \(record.value)\(record.isEphemeral ? " ephemeral" : "")"
        }
    }
}

extension Operation {
    /// The operation in a failure message, with the version it expects.
    var programText: String {
        switch self {
        case .check(_, let version), .delete(_, let version), .set(_, _, let version):
            "\(summary) if at version \(version.map(String.init) ?? "any")"
        case .create: summary
        }
    }

    var isSequentialCreate: Bool {
        if case .create(_, _, let mode) = self { mode.isSequential } else { false }
    }

    /// The operation with its key as `view`'s handle sends it.
    func sent(_ view: HandleView) -> Operation {
        switch self {
        case .check(let key, let version): .check(view.send(key), version: version)
        case .create(let key, let value, let mode): .create(view.send(key), value: value, mode: mode)
        case .set(let key, let value, let version): .set(view.send(key), value: value, ifVersion: version)
        case .delete(let key, let version): .delete(view.send(key), ifVersion: version)
        }
    }
}
