import Coordination

/// A transaction in a single etcd txn, for the common case: compares that hold exactly when every
/// operation would succeed against the state before the txn (with each sequential parent's
/// counter guessed), and the writes as the success branch. When a compare fails, the caller reads
/// what the two-request path reads (``TransactionPlan/reads``) and goes that way.
///
/// The txn carries no failure branch and no compare twice: the gateway's decoding of a txn's JSON,
/// message by message, was about 40% of etcd's CPU in the claims bench (measured with etcd's
/// pprof), and most txns succeed. A failed one pays one more read instead.
///
/// Only transactions whose compares can all speak of the state before the txn qualify: no
/// operation may touch a key an earlier one wrote (a check of a key before it is set is fine),
/// a create's parent must exist beforehand or be created persistent earlier in the transaction,
/// and nothing written may lie beneath a deleted key unless deleted before it. Anything else (and anything over etcd's
/// per-branch operation limit) goes the two-request way, unchanged.
struct OneRequestTransaction {
    let compares: [JSONValue]
    let success: [JSONValue]
    /// Each sequential parent's next number once the txn succeeded.
    private let counterPuts: [(parent: Key, next: Int64)]
    /// The deleted keys, whose counters the txn deletes too.
    private let deletedCounters: [Key]
    private let pending: [PendingResult]

    private enum PendingResult {
        case checked
        case created(Key, [UInt8], lease: Int64)
        /// A set whose record comes from the previous key-value of put response `response`.
        case set(Key, [UInt8], response: Int)
        case deleted
    }

    /// `nil` when the transaction does not qualify.
    /// - Parameters:
    ///   - lease: the session's lease; `nil` (expired) makes a transaction with an ephemeral create not qualify.
    ///   - counters: the guess for a sequential parent's counter.
    ///   - mustHold: compares the txn needs besides those of its operations.
    init?(
        operations: [Operation], keys: KeySpace, lease: Int64?, counters: (Key) -> CounterGuess,
        mustHold: [JSONValue] = []
    ) {
        var builder = Builder(keys: keys, lease: lease)
        builder.compares = mustHold
        for operation in operations {
            guard builder.add(operation, counters: counters) else { return nil }
        }
        let counterPuts = builder.counterParents.map { parent in (parent: parent, next: builder.counterNext[parent] ?? 0) }
        for (parent, next) in counterPuts {
            builder.success.append(["request_put": EtcdRequest.put(keys.counter(of: parent), value: Array(String(next).utf8))])
        }
        // No deleted key is a sequential parent here (nothing is written beneath a deleted key).
        builder.success += builder.deleted.map(keys.counterDeletion(of:))
        let limit = EtcdRequest.maxOperationsPerBranch
        guard builder.compares.count <= limit, builder.success.count <= limit else { return nil }
        compares = builder.compares
        success = builder.success
        pending = builder.pending
        self.counterPuts = counterPuts
        deletedCounters = builder.deleted
    }

    var request: JSONValue { EtcdRequest.txn(compare: compares, success: success, failure: []) }

    /// The counters a successful txn at `revision` wrote or deleted.
    func counters(writtenAt revision: Int64) -> [(parent: Key, guess: CounterGuess)] {
        counterPuts.map { ($0.parent, CounterGuess(next: $0.next, modRevision: revision)) }
            + deletedCounters.map { ($0, CounterGuess.absent) }
    }

    /// The results once the txn succeeded, as the two-request path gives them.
    func results(_ reply: TxnReply) throws(CoordinationError) -> [OperationResult] {
        var results: [OperationResult] = []
        for result in pending {
            switch result {
            case .checked:
                results.append(.checked)
            case .deleted:
                results.append(.deleted)
            case .created(let key, let value, let lease):
                results.append(.created(Record(
                    key: key, value: value, version: 0, createRevision: reply.revision, modRevision: reply.revision,
                    isEphemeral: lease != 0, ownerSession: SessionKeeper.owner(ofLease: lease))))
            case .set(let key, let value, let response):
                // etcd's version before the put is the contract's version after it.
                let before = try reply.previous(response)
                results.append(.set(Record(
                    key: key, value: value, version: before.version, createRevision: before.createRevision,
                    modRevision: reply.revision, isEphemeral: before.lease != 0,
                    ownerSession: SessionKeeper.owner(ofLease: before.lease))))
            }
        }
        return results
    }

    /// Walks the operations, building compares and writes; `add` answers `false` for the first
    /// operation whose precondition cannot be said about the state before the txn.
    private struct Builder {
        enum Write: Equatable {
            case created(ephemeral: Bool)
            /// Set or deleted.
            case changed
        }

        let keys: KeySpace
        let lease: Int64?
        var compares: [JSONValue] = []
        var success: [JSONValue] = []
        var pending: [PendingResult] = []
        /// Keys written so far, and how.
        var written: [Key: Write] = [:]
        var deleted: [Key] = []
        /// The compares that each deleted key's subtree is empty, while no deleted ancestor's cover them.
        var subtreeRanges: [Key: [JSONValue]] = [:]
        var comparedParents = Set<Key>()
        /// The versions each key is compared at (a version compare also says that it exists), and
        /// the keys compared only to exist.
        var versionsCompared: [Key: Set<Int64>] = [:]
        var existenceCompared = Set<Key>()
        var counterParents: [Key] = []
        var counterNext: [Key: Int64] = [:]

        mutating func add(_ operation: Operation, counters: (Key) -> CounterGuess) -> Bool {
            guard untouched(operation.key) else { return false }
            switch operation {
            case .check(let key, let version):
                guard requireExists(key, version: version) else { return false }
                pending.append(.checked)

            case .create(let requested, let value, let mode):
                let parent = requested.parent ?? .root
                if let parentWrite = written[parent] {
                    guard parentWrite == .created(ephemeral: false) else { return false }
                } else if !parent.isRoot && comparedParents.insert(parent).inserted {
                    _ = requireExists(parent, version: nil)
                    compares.append(EtcdRequest.compare(keys.etcdKey(parent), .lease, .equal, 0))
                }
                var key = requested
                if mode.isSequential {
                    guard let named = sequentialName(requested, under: parent, counters: counters), untouched(named) else { return false }
                    key = named
                }
                var keyLease: Int64 = 0
                if mode.isEphemeral {
                    guard let lease else { return false }
                    keyLease = lease
                }
                compares.append(EtcdRequest.compare(keys.etcdKey(key), .create, .equal, 0))
                success.append(["request_put": EtcdRequest.put(keys.etcdKey(key), value: value, lease: keyLease)])
                written[key] = .created(ephemeral: mode.isEphemeral)
                pending.append(.created(key, value, lease: keyLease))

            case .set(let key, let value, let ifVersion):
                guard requireExists(key, version: ifVersion) else { return false }
                pending.append(.set(key, value, response: success.count))
                success.append(["request_put": EtcdRequest.put(keys.etcdKey(key), value: value, ignoreLease: true, previous: true)])
                written[key] = .changed

            case .delete(let key, let ifVersion):
                // Keys beneath it may be written earlier only to be deleted (a run's claim, then
                // the run): the compare below then leaves out exactly those keys.
                let beneath = written.keys.filter { $0.isUnder(key) }
                guard beneath.allSatisfy({ deleted.contains($0) }) else { return false }
                guard requireExists(key, version: ifVersion) else { return false }
                // No other key beneath: an empty range compares as one all-zero key.
                let (start, end) = keys.subtree(key)
                var ranges: [JSONValue] = []
                var from = start
                for gone in beneath.map(keys.etcdKey).sorted(by: { $0.lexicographicallyPrecedes($1) }) {
                    ranges.append(EtcdRequest.compare(from, end: gone, .create, .equal, 0))
                    from = gone + [0]  // the first key after it
                }
                ranges.append(EtcdRequest.compare(from, end: end, .create, .equal, 0))
                // A key deleted beneath this one (a run's claim) compared its own subtree empty
                // with the same keys left out: these ranges cover that, so its go (one compare
                // fewer for every run's end).
                let covered = beneath.compactMap { subtreeRanges.removeValue(forKey: $0) }.joined()
                if !covered.isEmpty { compares.removeAll { covered.contains($0) } }
                compares += ranges
                subtreeRanges[key] = ranges
                success.append(["request_delete_range": EtcdRequest.deleteRange(keys.etcdKey(key))])
                written[key] = .changed
                deleted.append(key)
                pending.append(.deleted)
            }
            return true
        }

        /// Neither written by an earlier operation nor beneath a key one deleted.
        private func untouched(_ key: Key) -> Bool {
            written[key] == nil && !deleted.contains { key.isUnder($0) }
        }

        /// Compares that `key` exists, at `version` when given, once per key and version (a claim
        /// checks its run's version, then sets the run at that version). etcd's version is the
        /// contract's plus one, and at least 1 for any existing key, so a version compare also
        /// says that the key exists: a bare existence compare of the same key is then left out.
        /// `false` for a version no key can have (-1 would compare equal to an absent key's 0):
        /// the transaction does not qualify. Kept by key, not by searching the compares: this runs
        /// for every operation of every claim and run ending.
        private mutating func requireExists(_ key: Key, version: Int64?) -> Bool {
            guard let version else {
                if versionsCompared[key] == nil, existenceCompared.insert(key).inserted {
                    compares.append(EtcdRequest.compare(keys.etcdKey(key), .create, .greater, 0))
                }
                return true
            }
            guard version >= 0 && version < .max else { return false }
            guard versionsCompared[key, default: []].insert(version).inserted else { return true }
            if existenceCompared.remove(key) != nil {
                let existence = EtcdRequest.compare(keys.etcdKey(key), .create, .greater, 0)
                compares.removeAll { $0 == existence }
            }
            compares.append(EtcdRequest.compare(keys.etcdKey(key), .version, .equal, version + 1))
            return true
        }

        /// The guessed next name under `parent`; the first use of a parent compares its counter
        /// with the guess (mod revision 0 holds for an absent counter).
        private mutating func sequentialName(_ requested: Key, under parent: Key, counters: (Key) -> CounterGuess) -> Key? {
            let number: Int64
            if let next = counterNext[parent] {
                number = next
            } else {
                let guess = counters(parent)
                counterParents.append(parent)
                compares.append(EtcdRequest.compare(keys.counter(of: parent), .mod, .equal, guess.modRevision))
                number = guess.next
            }
            counterNext[parent] = number + 1
            return try? Key(requested.path + Key.sequenceSuffix(number))
        }
    }
}
