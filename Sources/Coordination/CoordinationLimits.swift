/// The portable limits (contract clauses 1, 2 and 5). Every backend enforces the same numbers,
/// before any I/O, so that a program that works on one backend works on all of them.
public enum CoordinationLimits {
    /// Largest value, in bytes. ZooKeeper's `jute.maxbuffer` and etcd's request limit sit above it.
    public static let maxValueBytes = 1_000_000
    /// Longest key, in UTF-8 bytes, not counting the store's namespace.
    public static let maxKeyBytes = 1_024
    /// Longest namespace, in UTF-8 bytes.
    public static let maxNamespaceBytes = 256
    /// Deepest key a create may make, in segments, not counting the namespace. Deeper keys broke
    /// differently on each backend (etcd's create compares each ancestor, and refused past about
    /// 63 levels with its raw "too many operations"; ZooKeeper's ancestor walk gave up at 66 with
    /// a misleading noNode), so every backend refuses them by name. Existing deeper keys (another
    /// tool's) can still be read, set and deleted.
    public static let maxKeyDepth = 64
    /// Deepest namespace, in segments: with ``maxKeyDepth`` every create's ancestors fit one etcd txn.
    public static let maxNamespaceDepth = 16
    /// Most operations in one transaction: half of etcd's default `--max-txn-ops` (128 requests
    /// per txn branch), since an operation may need two there (its write and its sequence
    /// counter's, or its compare and its parent's). At this size every mix of operations fits.
    public static let maxTransactionOperations = 64
    /// Most key and value bytes in one transaction (ZooKeeper checks a whole `multi` against `jute.maxbuffer`).
    public static let maxTransactionBytes = 1_000_000
    /// Digits of a sequential key's zero-padded suffix.
    public static let sequenceDigits = 10
    /// The session TTLs every backend accepts, checked wherever a TTL is read (store URLs, config
    /// files, `--session-ttl`, the stores' initialisers). At least 1 s: etcd grants leases in whole
    /// seconds, and the ZooKeeper client drops a connection that has not answered within 2/3 of
    /// the timeout, so with less it never gets a session. At most a day, far from the ZooKeeper C
    /// client's limit: it computes `2 × timeout` in 32-bit milliseconds, which overflows past 12.4
    /// days and makes every connection attempt time out at once (opening then waited forever).
    public static let sessionTTLRange: ClosedRange<Duration> = .seconds(1) ... .seconds(86_400)

    /// Why `ttl` is refused as a session TTL, to follow the setting's name; `nil` when it is within
    /// ``sessionTTLRange``.
    public static func sessionTTLProblem(_ ttl: Duration) -> String? {
        guard !sessionTTLRange.contains(ttl) else { return nil }
        let lowest = DurationText.format(sessionTTLRange.lowerBound)
        let highest = DurationText.format(sessionTTLRange.upperBound)
        return "is outside the session TTLs every backend accepts, \(lowest) to \(highest); choose one in that range, such as 10s"
            + " (the server may still adjust it: ZooKeeper clamps it to its minSessionTimeout and maxSessionTimeout, 2 and 20"
            + " ticks by default; etcd raises it to its minimum lease TTL, 1.5 election timeouts, 2s by default)"
    }

    /// Throws `invalidConfiguration` when `ttl` is outside ``sessionTTLRange``.
    public static func validate(sessionTTL ttl: Duration) throws(CoordinationError) {
        if let problem = sessionTTLProblem(ttl) {
            throw CoordinationError(.invalidConfiguration, "session TTL \(DurationText.format(ttl)) \(problem)")
        }
    }

    /// Why `namespace` cannot be a store's namespace (too long or too deep); `nil` when it can.
    public static func namespaceProblem(_ namespace: Key) -> String? {
        let bytes = namespace.path.utf8.count
        if bytes > maxNamespaceBytes { return "it is \(bytes) bytes long; the limit is \(maxNamespaceBytes) bytes" }
        let depth = namespace.depth
        if depth > maxNamespaceDepth { return "it is \(depth) segments deep; the limit is \(maxNamespaceDepth)" }
        return nil
    }

    /// Throws ``CoordinationError/Code/valueTooLarge`` when `value` is over ``maxValueBytes``.
    public static func validate(value: [UInt8], for key: Key) throws(CoordinationError) {
        guard value.count <= maxValueBytes else {
            throw CoordinationError(
                .valueTooLarge,
                "value for \(key) is \(value.count) bytes; the limit is \(maxValueBytes) bytes",
                key: key)
        }
    }

    /// Throws ``CoordinationError/Code/invalidKey`` when a create's key is deeper than
    /// ``maxKeyDepth`` or longer than ``maxKeyBytes``, or a sequential create's key leaves no room for its ``sequenceDigits``-digit
    /// number: the key it makes must fit ``maxKeyBytes`` like any other. (ZooKeeper would append
    /// the number past the limit, etcd refuse only after numbering.)
    public static func validate(create key: Key, mode: CreateMode) throws(CoordinationError) {
        let depth = key.depth
        guard depth <= maxKeyDepth else {
            throw CoordinationError(
                .invalidKey,
                "cannot create \(Key.quoted(key.path)): it is \(depth) segments deep; the limit is \(maxKeyDepth) on every backend (the namespace not counted)",
                key: key)
        }
        // Key(_:) applies this limit, but a key joined from valid parts (appending, a stored path)
        // can pass it; beyond it the backends failed each their own way (ZooKeeper lost the
        // connection past jute.maxbuffer, etcd refused the txn of its ancestors as too large).
        let bytes = key.path.utf8.count
        guard bytes <= maxKeyBytes else {
            throw CoordinationError(
                .invalidKey,
                "cannot create \(Key.quoted(key.path)): it is \(bytes) bytes long; the limit is \(maxKeyBytes) bytes on every backend"
                    + " (the namespace not counted)",
                key: key)
        }
        let length = bytes + sequenceDigits
        guard mode.isSequential, length > maxKeyBytes else { return }
        throw CoordinationError(
            .invalidKey,
            "sequential key \(key) would be \(length) bytes long with its \(sequenceDigits)-digit number; the limit is \(maxKeyBytes) bytes: shorten the prefix",
            key: key)
    }

    /// The key and value bytes `operations` carry, which ``maxTransactionBytes`` bounds.
    public static func payloadBytes(of operations: [Operation]) -> Int {
        operations.reduce(0) { $0 + $1.key.path.utf8.count + ($1.value?.count ?? 0) }
    }

    /// Checks a transaction against the operation-count, value and payload limits, each create's
    /// key as ``validate(create:mode:)`` does, and refuses the root key (it has no record).
    public static func validate(transaction operations: [Operation]) throws(CoordinationError) {
        guard operations.count <= maxTransactionOperations else {
            throw CoordinationError(
                .transactionTooLarge,
                "transaction has \(operations.count) operations; the limit is \(maxTransactionOperations) on every backend: split it into smaller transactions")
        }
        for (index, operation) in operations.enumerated() {
            do throws(CoordinationError) {
                if operation.key.isRoot { throw CoordinationError.rootRefused("part of a transaction") }
                if let value = operation.value { try validate(value: value, for: operation.key) }
                if case .create(let key, _, let mode) = operation { try validate(create: key, mode: mode) }
            } catch {
                throw error.inTransaction(operation: index, of: operations.count)
            }
        }
        let bytes = payloadBytes(of: operations)
        guard bytes <= maxTransactionBytes else {
            throw CoordinationError(
                .transactionTooLarge,
                "transaction carries \(bytes) bytes of keys and values; the limit is \(maxTransactionBytes)")
        }
    }
}
