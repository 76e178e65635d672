public import Coordination

/// Transactions: read what the operations depend on at one revision, play them against that
/// snapshot to find the first that fails (so the error names the right operation and reason),
/// then write their combined effect in one etcd txn whose compares guarantee that nothing read
/// has changed since. If something did, start again.
///
/// Most transactions first try ``OneRequestTransaction``: compares and writes in one txn, so a
/// transaction that succeeds costs one request, and one that does not costs one more (the reads).
extension EtcdStore {
    public func transaction(_ operations: [Operation]) async throws -> [OperationResult] {
        try CoordinationLimits.validate(transaction: operations)
        if operations.isEmpty {
            try requireOpen()
            return []
        }
        let ephemeral = operations.contains { if case .create(_, _, let mode) = $0 { mode.isEphemeral } else { false } }
        if ephemeral { return try await onLiveLease { () async throws(CoordinationError) in try await transactionOnce(operations) } }
        return try await transactionOnce(operations)
    }

    private func transactionOnce(_ operations: [Operation]) async throws(CoordinationError) -> [OperationResult] {
        let plan = TransactionPlan(operations: operations, keys: keys)
        // The namespace is the handle's root, which always exists: a create directly beneath it
        // compares that the namespace's keys exist (and are persistent); when they went missing
        // (deleted from outside), the transaction makes them again first, as the standalone
        // create does, whether or not it then succeeds, as on the other backends.
        let namespaceExists = plan.readsNamespace ? keys.namespaceExists : []
        var namespaceMade = false
        var readAlready: TxnReply?
        if let oneRequest = OneRequestTransaction(
            operations: operations, keys: keys, lease: keeper.lease, counters: counterGuesses.guess(for:),
            mustHold: namespaceExists)
        {
            let reply = try await write(oneRequest.request)
            if reply.succeeded {
                counterGuesses.remember(oneRequest.counters(writtenAt: reply.revision), at: reply.revision)
                return try oneRequest.results(reply)
            }
        }
        // Where each sequential parent's numbers start at least: past names taken by keys its
        // counter does not know of (copied in by a migration, written by another tool), as the
        // standalone create skips them. A sequential name is never refused for such keys.
        var skipTo: [Key: Int64] = [:]
        while true {
            let snapshot: TxnReply
            if let reply = readAlready {
                snapshot = reply
                readAlready = nil
            } else {
                snapshot = try await read(plan.reads)
            }
            var replay = try TransactionReplay(plan: plan, snapshot: snapshot, keys: keys, skipTo: skipTo)
            if replay.namespaceMissing && !namespaceMade {
                try await ensureNamespaceExists()
                namespaceMade = true
                continue
            }
            counterGuesses.remember(replay.countersRead, at: snapshot.revision)
            let lease = operations.contains { if case .create(_, _, let mode) = $0 { mode.isEphemeral } else { false } }
                ? try currentLease() : 0
            let outcome = replay.play(operations, lease: lease)
            if case .failure(let error) = outcome { throw annotate(error, key: error.key ?? .root) }
            // On failure, the txn reads the next snapshot, and whether each sequential name it assumed free is taken.
            let rereads = plan.reads + replay.sequentialNameReads
            let failureBranch = rereads.count <= EtcdRequest.maxOperationsPerBranch ? rereads : []
            let reply = try await write(
                replay.writeRequest(snapshotRevision: snapshot.revision, failure: failureBranch, mustHold: namespaceExists))
            if reply.succeeded {
                counterGuesses.remember(replay.counters(writtenAt: reply.revision), at: reply.revision)
                return replay.results(revision: reply.revision)
            }
            let after = failureBranch.isEmpty ? try await read(rereads) : reply
            // Progress: the compares hold on the snapshot, except that each sequential name nobody
            // read is absent. So a write fails because another client wrote since (its progress),
            // or because such a name is taken while its counter has not moved: then the numbers
            // skip past every key with that prefix, which cannot fail so again without another write.
            let taken = try replay.namesTakenBehindCounters(in: after)
            for (parent, prefix) in taken {
                skipTo[parent] = max(skipTo[parent] ?? 0, try await highestSequenceNumber(under: prefix) + 1)
            }
            if taken.isEmpty && after.revision == snapshot.revision {
                // Nothing was written since the snapshot, yet the compares failed: retrying would spin.
                throw CoordinationError(
                    .unavailable,
                    "a transaction's compares failed on the unchanged snapshot it was built from (revision \(snapshot.revision))")
            }
            readAlready = after
        }
    }

    /// Sends a transaction's write txn. A lease found gone fails the transaction as a whole, as
    /// a lease known gone before it (``currentLease()``) does and as an expired session does on
    /// ZooKeeper and the embedded store: `sessionExpired` naming no operation and no key.
    private func write(_ request: JSONValue) async throws(CoordinationError) -> TxnReply {
        do {
            return try await txn(request, kind: .write)
        } catch {
            if error.code == .sessionExpired { keeper.nudge() }
            throw error
        }
    }
}

/// What a transaction must read: each key it touches, each created key's parent, each sequential
/// parent's counter, and each deleted key's children.
struct TransactionPlan {
    var userKeys: [Key] = []
    var counterParents: [Key] = []
    var deleted: [Key] = []

    /// Whether a create is directly beneath the namespace's own key, which is then read too.
    var readsNamespace = false

    init(operations: [Operation], keys: KeySpace) {
        self.keys = keys
        readsNamespace = !keys.namespace.isRoot && operations.createsBeneathRoot
        var userKeys: [Key] = []
        var counterParents: [Key] = []
        var deleted: [Key] = []
        var seen = Set<Key>()
        func note(_ key: Key) { if !key.isRoot && seen.insert(key).inserted { userKeys.append(key) } }
        var counters = Set<Key>()
        for operation in operations {
            // A sequential create's own key is only the prefix of the name it makes: nothing
            // depends on it, and a compare of it could take the txn past etcd's limit.
            if case .create(_, _, let mode) = operation, mode.isSequential {} else { note(operation.key) }
            switch operation {
            case .create(let key, _, let mode):
                let parent = key.parent ?? .root
                note(parent)
                if mode.isSequential && counters.insert(parent).inserted { counterParents.append(parent) }
            case .delete(let key, _):
                if !deleted.contains(key) { deleted.append(key) }
            case .check, .set:
                break
            }
        }
        self.userKeys = userKeys
        self.counterParents = counterParents
        self.deleted = deleted
    }

    let keys: KeySpace

    /// The index of `parent`'s counter among ``reads``.
    func counterRead(of parent: Key) -> Int? {
        counterParents.firstIndex(of: parent).map { userKeys.count + $0 }
    }

    var readCount: Int { userKeys.count + counterParents.count + deleted.count + (readsNamespace ? 1 : 0) }

    var reads: [JSONValue] {
        userKeys.map { EtcdRequest.range(keys.etcdKey($0), keysOnly: true) }
            + counterParents.map { EtcdRequest.range(keys.counter(of: $0)) }
            + deleted.map { key in
                let (start, end) = keys.subtree(key)
                return EtcdRequest.range(start, end: end, keysOnly: true)
            }
            + (readsNamespace ? [EtcdRequest.range(keys.etcdKey(.root), keysOnly: true)] : [])
    }
}

/// Plays a transaction against a snapshot and, when every operation would succeed, builds the txn.
struct TransactionReplay {
    private let keys: KeySpace
    private let plan: TransactionPlan
    /// Each user key as read (`nil`: absent).
    private var observed: [Key: KeyValue?] = [:]
    /// Each user key as the transaction leaves it so far.
    private var current: [Key: KeyValue?] = [:]
    private var counterObserved: [Key: KeyValue?] = [:]
    private var counterNext: [Key: Int64] = [:]
    /// Each sequential parent's counter as read.
    private(set) var countersRead: [(parent: Key, guess: CounterGuess)] = []
    /// Each sequential name given whose absence nobody read, in order, with its parent and prefix.
    private var unreadSequentialNames: [(parent: Key, prefix: Key, name: Key)] = []
    /// Keys beneath each deleted key, as read.
    private var beneath: [Key: [Key]] = [:]
    /// The deleted keys with an etcd key no Key names beneath (another tool's): no operation can
    /// delete it, so they stay non-empty, as the standalone delete's range compare finds them.
    private var foreignBeneath: Set<Key> = []
    /// Keys in first-touch order, for a stable txn.
    private var touched: [Key] = []
    private var pending: [PendingResult] = []
    private var leases: [Key: Int64] = [:]

    private enum PendingResult {
        case checked
        case created(Key, [UInt8], lease: Int64)
        case set(Key, [UInt8], version: Int64, createRevision: Int64?, lease: Int64)
        case deleted
    }

    /// - Parameter skipTo: the lowest number each sequential parent may give, when above its counter.
    init(plan: TransactionPlan, snapshot: TxnReply, keys: KeySpace, skipTo: [Key: Int64] = [:]) throws(CoordinationError) {
        self.keys = keys
        self.plan = plan
        var index = 0
        for key in plan.userKeys {
            let found = try snapshot.range(index).first
            observed[key] = .some(found)
            current[key] = .some(found)
            index += 1
        }
        for parent in plan.counterParents {
            let found = try snapshot.range(index).first
            counterObserved[parent] = .some(found)
            let counted = try found.map(EtcdStore.counterValue) ?? 0
            counterNext[parent] = max(counted, skipTo[parent] ?? 0)
            countersRead.append((parent, CounterGuess(next: counted, modRevision: found?.modRevision ?? 0)))
            index += 1
        }
        for key in plan.deleted {
            let listed = keys.partition(try snapshot.range(index))
            beneath[key] = listed.named
            if !listed.foreign.isEmpty { foreignBeneath.insert(key) }
            index += 1
        }
        if plan.readsNamespace { namespaceRecord = try snapshot.range(index).first }
    }

    /// The namespace's own key as read, when the plan reads it.
    private var namespaceRecord: KeyValue?

    /// Whether the plan read the namespace's own key and found it missing.
    var namespaceMissing: Bool { plan.readsNamespace && namespaceRecord == nil }

    private func exists(_ key: Key) -> KeyValue? {
        if key.isRoot {
            if plan.readsNamespace { return namespaceRecord }
            return KeyValue(key: [], value: [], createRevision: 0, modRevision: 0, version: 1, lease: 0)
        }
        return current[key] ?? nil
    }

    private mutating func touch(_ key: Key) {
        if !touched.contains(key) { touched.append(key) }
    }

    /// Plays every operation in order; the first failure is returned, naming its index.
    mutating func play(_ operations: [Operation], lease: Int64) -> Result<Void, CoordinationError> {
        // Each key's second write: where etcd's one put per key falls short.
        var rewritten: [Key: Int] = [:]
        for (index, operation) in operations.enumerated() {
            switch operation {
            case .create, .set:
                if touched.contains(operation.key) && rewritten[operation.key] == nil { rewritten[operation.key] = index }
            case .check, .delete:
                break
            }
            if let error = apply(operation, lease: lease) {
                return .failure(error.inTransaction(operation: index, of: operations.count))
            }
        }
        // etcd refuses two writes of one key in a txn, and one put cannot give the versions (or
        // create revision) that a create-then-set or delete-then-create leaves on ZooKeeper. A key
        // written and finally deleted is fine: nothing of it remains to be numbered.
        for (key, index) in rewritten.sorted(by: { $0.value < $1.value }) where (current[key] ?? nil) != nil {
            return .failure(CoordinationError(
                .unsupported,
                "etcd cannot write \(key) twice in one transaction with the versions other backends give it; split the transaction",
                key: key
            ).inTransaction(operation: index, of: operations.count))
        }
        return .success(())
    }

    private mutating func apply(_ operation: Operation, lease: Int64) -> CoordinationError? {
        switch operation {
        case .check(let key, let version):
            guard let found = exists(key) else { return .noNode(key) }
            if let version, found.version - 1 != version { return .versionConflict(key, expected: version, actual: found.version - 1) }
            pending.append(.checked)

        case .create(let requested, let value, let mode):
            let parent = requested.parent ?? .root
            guard let parentRecord = exists(parent) else {
                return CoordinationError(
                    .noNode, "cannot create \(requested): its parent \(parent) does not exist (a transaction creates no ancestors)",
                    key: requested)
            }
            if parentRecord.lease != 0 { return .ephemeralChildren(parent) }
            var key = requested
            if mode.isSequential {
                // Names known to be taken (read, or created earlier in this transaction) are skipped.
                var number = counterNext[parent] ?? 0
                repeat {
                    do {
                        key = try Key(requested.path + Key.sequenceSuffix(number))
                    } catch {
                        return error
                    }
                    number += 1
                } while exists(key) != nil
                counterNext[parent] = number
                if current[key] == nil {
                    // A sequential name nobody read: it cannot exist unless written without the
                    // counter; the txn's compare on it catches that, and the transaction skips it.
                    observed[key] = .some(nil)
                    current[key] = .some(nil)
                    unreadSequentialNames.append((parent, requested, key))
                }
            }
            if exists(key) != nil { return .nodeExists(key) }
            let keyLease = mode.isEphemeral ? lease : 0
            current[key] = .some(KeyValue(key: keys.etcdKey(key), value: value, createRevision: 0, modRevision: 0, version: 1, lease: keyLease))
            leases[key] = keyLease
            touch(key)
            pending.append(.created(key, value, lease: keyLease))

        case .set(let key, let value, let ifVersion):
            guard var found = exists(key) else { return .noNode(key) }
            if let ifVersion, found.version - 1 != ifVersion {
                return .versionConflict(key, expected: ifVersion, actual: found.version - 1)
            }
            found.version += 1
            found.value = value
            current[key] = .some(found)
            touch(key)
            pending.append(.set(key, value, version: found.version - 1, createRevision: found.createRevision == 0 ? nil : found.createRevision, lease: found.lease))

        case .delete(let key, let ifVersion):
            guard let found = exists(key) else { return .noNode(key) }
            if let ifVersion, found.version - 1 != ifVersion {
                return .versionConflict(key, expected: ifVersion, actual: found.version - 1)
            }
            let readBeneath = beneath[key] ?? []
            let stillBeneath = readBeneath.contains { below in
                guard let tracked = current[below] else { return true }  // untouched by the transaction
                return tracked != nil
            }
            let createdBeneath = current.contains { entry in entry.key != key && entry.key.isUnder(key) && entry.value != nil }
            if stillBeneath || createdBeneath || foreignBeneath.contains(key) { return .notEmpty(key) }
            current[key] = .some(nil)
            touch(key)
            pending.append(.deleted)
        }
        return nil
    }

    /// A count of each sequential name assumed free, to send after ``TransactionPlan/reads``.
    var sequentialNameReads: [JSONValue] {
        unreadSequentialNames.map { EtcdRequest.range(keys.etcdKey($0.name), countOnly: true) }
    }

    /// The sequential parents and prefixes whose assumed-free name `reply` (the plan's reads, then
    /// ``sequentialNameReads``) finds taken while the parent's counter is as this replay read it:
    /// a key the counter does not know of, which rereading alone would find again.
    func namesTakenBehindCounters(in reply: TxnReply) throws(CoordinationError) -> [(parent: Key, prefix: Key)] {
        var taken: [(parent: Key, prefix: Key)] = []
        for (offset, name) in unreadSequentialNames.enumerated() where try reply.count(plan.readCount + offset) > 0 {
            guard let index = plan.counterRead(of: name.parent) else { continue }
            let counterNow = try reply.range(index).first?.modRevision ?? 0
            guard counterNow == (counterObserved[name.parent] ?? nil)?.modRevision ?? 0 else { continue }
            if !taken.contains(where: { $0.prefix == name.prefix }) { taken.append((name.parent, name.prefix)) }
        }
        return taken
    }

    /// The txn: compares that hold only if nothing read has changed, then one request per touched
    /// key and the counters' writes; `failure` is what a failed txn reads instead.
    ///
    /// Every operation needs at most one compare of an existing key (itself, or a create's parent)
    /// and at most two writes (its own and its sequence counter's), so a transaction within the
    /// contract's limit fits etcd's per-branch limit once the other compares are folded.
    /// - Parameter mustHold: compares the txn needs besides those of what it read.
    func writeRequest(snapshotRevision: Int64, failure: [JSONValue] = [], mustHold: [JSONValue] = []) -> JSONValue {
        var compares = mustHold
        var absentCompares: [JSONValue] = []
        for key in observed.keys.sorted() {
            let found = observed[key] ?? nil
            if let found {
                compares.append(EtcdRequest.compare(keys.etcdKey(key), .mod, .equal, found.modRevision))
            } else {
                absentCompares.append(EtcdRequest.compare(keys.etcdKey(key), .create, .equal, 0))
            }
        }
        for key in plan.deleted {
            // No key may have appeared beneath a deleted key since the snapshot.
            let (start, end) = keys.subtree(key)
            absentCompares.append(EtcdRequest.compare(start, end: end, .create, .less, snapshotRevision + 1))
        }
        // The counter as read: unmoved since the snapshot.
        func counterUnmoved(_ parent: Key) -> JSONValue {
            EtcdRequest.compare(keys.counter(of: parent), .mod, .equal, (counterObserved[parent] ?? nil)?.modRevision ?? 0)
        }
        var counterCompares = plan.counterParents.map(counterUnmoved)
        let limit = EtcdRequest.maxOperationsPerBranch
        if compares.count + absentCompares.count + counterCompares.count > limit {
            // One range compare says no counter of the namespace moved since the snapshot, more
            // conservatively. (A counter is only deleted with its parent, whose compare is above.)
            // The namespace's own counter lies outside that range (in a namespace) and keeps its
            // compare: 63 sequential parents and the root once needed 130 compares.
            let (start, end) = keys.counters(beneath: .root)
            counterCompares = [EtcdRequest.compare(start, end: end, .mod, .less, snapshotRevision + 1)]
            if plan.counterParents.contains(.root) {
                counterCompares.append(counterUnmoved(.root))
            }
        }
        compares += counterCompares
        if compares.count + absentCompares.count <= limit {
            compares += absentCompares
        } else if !absentCompares.isEmpty {
            // One range compare over the whole namespace says the same (no key appeared since
            // the snapshot), only more conservatively.
            let (start, end) = keys.subtree(.root)
            compares.append(EtcdRequest.compare(start, end: end, .create, .less, snapshotRevision + 1))
        }

        var success: [JSONValue] = []
        for key in touched {
            let before = observed[key] ?? nil
            let after = current[key] ?? nil
            switch (before, after) {
            case (_, let after?):
                if before == nil || after.createRevision == 0 {
                    success.append(["request_put": EtcdRequest.put(keys.etcdKey(key), value: after.value, lease: leases[key] ?? 0)])
                } else {
                    success.append(["request_put": EtcdRequest.put(keys.etcdKey(key), value: after.value, ignoreLease: true)])
                }
            case (_?, nil):
                success.append(["request_delete_range": EtcdRequest.deleteRange(keys.etcdKey(key))])
            case (nil, nil):
                break  // created and deleted again within the transaction
            }
        }
        // A deleted key stays deleted (``play(_:lease:)`` refuses one created again): its counter
        // goes rather than being written.
        for parent in plan.counterParents where !plan.deleted.contains(parent) {
            let next = counterNext[parent] ?? 0
            success.append(["request_put": EtcdRequest.put(keys.counter(of: parent), value: Array(String(next).utf8))])
        }
        success += plan.deleted.map(keys.counterDeletion(of:))
        return EtcdRequest.txn(compare: compares, success: success, failure: failure.map { ["request_range": $0] })
    }

    /// The counters the txn wrote or deleted, once it applied at `revision`.
    func counters(writtenAt revision: Int64) -> [(parent: Key, guess: CounterGuess)] {
        plan.counterParents.filter { !plan.deleted.contains($0) }.map { ($0, CounterGuess(next: counterNext[$0] ?? 0, modRevision: revision)) }
            + plan.deleted.map { ($0, CounterGuess.absent) }
    }

    /// The results once the txn applied at `revision`.
    func results(revision: Int64) -> [OperationResult] {
        pending.map { result in
            switch result {
            case .checked: return .checked
            case .deleted: return .deleted
            case .created(let key, let value, let lease):
                return .created(Record(
                    key: key, value: value, version: 0, createRevision: revision, modRevision: revision, isEphemeral: lease != 0,
                    ownerSession: SessionKeeper.owner(ofLease: lease)))
            case .set(let key, let value, let version, let createRevision, let lease):
                return .set(Record(
                    key: key, value: value, version: version, createRevision: createRevision ?? revision, modRevision: revision,
                    isEphemeral: lease != 0, ownerSession: SessionKeeper.owner(ofLease: lease)))
            }
        }
    }
}
