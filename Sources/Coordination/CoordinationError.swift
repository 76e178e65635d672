/// The one error every store, recipe and command throws.
///
/// The same situation gives the same ``Code`` on every backend (contract clause 9). What the
/// backend itself said (a ZooKeeper return code, an etcd gateway status and gRPC code) rides
/// along in ``backendDetail`` for debugging; never branch on it.
public struct CoordinationError: Error, Sendable, Hashable, CustomStringConvertible {
    /// What went wrong, portably.
    public enum Code: String, Sendable, Hashable, CaseIterable, Codable {
        /// The key does not exist (or, for a create, its parent does not exist inside a transaction).
        case noNode
        /// The key already exists.
        case nodeExists
        /// A conditional operation found the key at another version.
        case versionConflict
        /// The key has children and the delete was not recursive.
        case notEmpty
        /// The key is malformed or reserved; raised before any I/O.
        case invalidKey
        /// The value (or a transaction's payload) is over the portable limit; raised before any I/O.
        case valueTooLarge
        /// An ephemeral key cannot have children.
        case ephemeralChildren
        /// A transaction has more operations (or bytes) than the portable limit; raised before any I/O.
        case transactionTooLarge
        /// The session that owned the operation expired; its ephemeral keys are gone.
        case sessionExpired
        /// Contact was lost while a write was in flight, or a write was tried while contact is
        /// lost: its outcome is unknown. (A read in the same situation is ``unavailable``: it has
        /// no outcome to be unsure of.)
        case connectionLoss
        /// The operation did not complete in time; a write's outcome is unknown.
        case timeout
        /// The credentials were missing or wrong.
        case unauthenticated
        /// The credentials are valid but not allowed to do this.
        case permissionDenied
        /// The store cannot be reached (a read, or a write known not to have been applied), or the
        /// handle is closed.
        case unavailable
        /// The backend cannot honour this request; it says so instead of faking it.
        case unsupported
        /// A store URL, option or configuration value is malformed or unknown; raised before any I/O.
        case invalidConfiguration
    }

    /// The portable code; branch on this.
    public var code: Code
    /// A one-line, human message that names the problem and, where there is one, the fix.
    public var message: String
    /// The key involved, when there is one.
    public var key: Key?
    /// For a failed transaction: the zero-based index of the operation that failed.
    public var failedOperation: Int?
    /// The backend's own words (return code, HTTP status, gRPC code), for debugging only.
    public var backendDetail: String?

    public init(
        _ code: Code,
        _ message: String,
        key: Key? = nil,
        failedOperation: Int? = nil,
        backendDetail: String? = nil
    ) {
        self.code = code
        self.message = message
        self.key = key
        self.failedOperation = failedOperation
        self.backendDetail = backendDetail
    }

    public var description: String {
        var text = "\(code.rawValue): \(message)"
        if let backendDetail { text += " [\(backendDetail)]" }
        return text
    }

    /// The same error, marked as raised by operation `index` of a transaction.
    public func inTransaction(operation index: Int, of count: Int) -> CoordinationError {
        var copy = self
        copy.failedOperation = index
        copy.message = "transaction operation \(index + 1) of \(count) failed: \(message)"
        return copy
    }

    /// The same error, as raised by operation `index` of a transaction of `count` operations
    /// instead of the one it came from: for a transaction sent inside a larger one (a lock's
    /// guarded transaction behind its check, transactions merged into one), whose caller counts
    /// its own operations. Index and message agree.
    public func rebased(to index: Int, of count: Int) -> CoordinationError {
        var original = self
        if message.hasPrefix("transaction operation "), let range = message.range(of: " failed: ") {
            original.message = String(message[range.upperBound...])
        }
        return original.inTransaction(operation: index, of: count)
    }
}

extension CoordinationError {
    public static func noNode(_ key: Key) -> CoordinationError {
        CoordinationError(.noNode, "no such key \(key)", key: key)
    }
    public static func nodeExists(_ key: Key) -> CoordinationError {
        CoordinationError(.nodeExists, "key \(key) already exists", key: key)
    }
    public static func versionConflict(_ key: Key, expected: Int64, actual: Int64?) -> CoordinationError {
        let found = actual.map { "version \($0)" } ?? "no such key"
        return CoordinationError(
            .versionConflict, "key \(key) is not at version \(expected) (found \(found))", key: key)
    }
    public static func notEmpty(_ key: Key) -> CoordinationError {
        CoordinationError(.notEmpty, "key \(key) has children; delete them first or delete recursively", key: key)
    }
    public static func ephemeralChildren(_ parent: Key) -> CoordinationError {
        CoordinationError(.ephemeralChildren, "key \(parent) is ephemeral and cannot have children", key: parent)
    }
    public static func closed() -> CoordinationError {
        CoordinationError(.unavailable, "the store handle is closed")
    }
    /// `invalidKey` for a call the root key cannot take: it has no record (`what`: "read", "set"…).
    public static func rootRefused(_ what: String) -> CoordinationError {
        CoordinationError(.invalidKey, "the root key '/' has no record and cannot be \(what)", key: .root)
    }
    /// `invalidKey` for a delete of the root key that is not recursive.
    public static func rootDeleteRefused() -> CoordinationError {
        rootRefused("deleted (delete it recursively to empty the namespace)")
    }
}
