/// The portable limits (contract clauses 1, 2 and 5). Every backend enforces the same numbers,
/// before any I/O, so that a program that works on one backend works on all of them.
public enum CoordinationLimits {
    /// Largest value, in bytes. ZooKeeper's `jute.maxbuffer` and etcd's request limit sit above it.
    public static let maxValueBytes = 1_000_000
    /// Longest key, in UTF-8 bytes, not counting the store's namespace.
    public static let maxKeyBytes = 1_024
    /// Longest namespace, in UTF-8 bytes.
    public static let maxNamespaceBytes = 256
    /// Most operations in one transaction: half of etcd's default `--max-txn-ops` (128 requests
    /// per txn branch), since an operation may need two there (its write and its sequence
    /// counter's, or its compare and its parent's). At this size every mix of operations fits.
    public static let maxTransactionOperations = 64
    /// Most key and value bytes in one transaction (ZooKeeper checks a whole `multi` against `jute.maxbuffer`).
    public static let maxTransactionBytes = 1_000_000
    /// Digits of a sequential key's zero-padded suffix.
    public static let sequenceDigits = 10

    /// Throws ``CoordinationError/Code/valueTooLarge`` when `value` is over ``maxValueBytes``.
    public static func validate(value: [UInt8], for key: Key) throws(CoordinationError) {
        guard value.count <= maxValueBytes else {
            throw CoordinationError(
                .valueTooLarge,
                "value for \(key) is \(value.count) bytes; the limit is \(maxValueBytes) bytes",
                key: key)
        }
    }

    /// Throws ``CoordinationError/Code/invalidKey`` when a sequential create's key leaves no room
    /// for its ``sequenceDigits``-digit number: the key it makes must fit ``maxKeyBytes`` like any
    /// other. (ZooKeeper would append the number past the limit, etcd refuse only after numbering.)
    public static func validate(create key: Key, mode: CreateMode) throws(CoordinationError) {
        let length = key.path.utf8.count + sequenceDigits
        guard mode.isSequential, length > maxKeyBytes else { return }
        throw CoordinationError(
            .invalidKey,
            "sequential key \(key) would be \(length) bytes long with its \(sequenceDigits)-digit number; the limit is \(maxKeyBytes) bytes: shorten the prefix",
            key: key)
    }

    /// Checks a transaction against the operation-count, value and payload limits, each create's
    /// key as ``validate(create:mode:)`` does, and refuses the root key (it has no record).
    public static func validate(transaction operations: [Operation]) throws(CoordinationError) {
        guard operations.count <= maxTransactionOperations else {
            throw CoordinationError(
                .transactionTooLarge,
                "transaction has \(operations.count) operations; the limit is \(maxTransactionOperations) on every backend: split it into smaller transactions")
        }
        var bytes = 0
        for (index, operation) in operations.enumerated() {
            do throws(CoordinationError) {
                if operation.key.isRoot { throw CoordinationError.rootRefused("part of a transaction") }
                if let value = operation.value { try validate(value: value, for: operation.key) }
                if case .create(let key, _, let mode) = operation { try validate(create: key, mode: mode) }
            } catch {
                throw error.inTransaction(operation: index, of: operations.count)
            }
            bytes += operation.key.path.utf8.count + (operation.value?.count ?? 0)
        }
        guard bytes <= maxTransactionBytes else {
            throw CoordinationError(
                .transactionTooLarge,
                "transaction carries \(bytes) bytes of keys and values; the limit is \(maxTransactionBytes)")
        }
    }
}
