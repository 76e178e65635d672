public import Coordination
public import Logging

/// A fair read-write lock under `path`: any number of readers, or one writer.
///
/// Readers and writers share one queue. A reader holds the lock when no writer is ahead of it and
/// watches only the nearest writer ahead; a writer holds it when it is first and watches only the
/// entry just ahead. So a writer is never starved by later readers, and no release wakes a herd.
public struct ReadWriteLock: Sendable {
    public let store: any CoordinationStore
    public let path: Key
    let reader: QueueAcquirer
    let writer: QueueAcquirer

    public init(store: any CoordinationStore, path: Key, logger: Logger = Logger(label: "coordination.rwlock")) {
        self.store = store
        self.path = path
        let queue = SequentialQueue(store: store, path: path)
        reader = QueueAcquirer(
            queue: queue, prefix: "read",
            admission: .blocker { entries, position in entries[..<position].last { $0.hasPrefix("write-") } },
            logger: logger)
        writer = QueueAcquirer(queue: queue, prefix: "write", admission: .predecessor, logger: logger)
    }

    /// Waits for shared access; `nil` after `timeout`, giving up as ``Lock/acquire(timeout:value:tidyingUp:)`` does.
    public func acquireRead(timeout: Duration? = nil, tidyingUp tidyUp: TidyUpAllowance = TidyUpAllowance()) async throws -> LockLease? {
        try await reader.acquire(timeout: timeout, value: [], tidyingUp: tidyUp)
    }

    /// Waits for exclusive access; `nil` after `timeout`, giving up as ``Lock/acquire(timeout:value:tidyingUp:)`` does.
    public func acquireWrite(timeout: Duration? = nil, tidyingUp tidyUp: TidyUpAllowance = TidyUpAllowance()) async throws -> LockLease? {
        try await writer.acquire(timeout: timeout, value: [], tidyingUp: tidyUp)
    }

    /// Runs `body` with shared access, cancelled if the session is lost. Not acquired within
    /// `timeout`: ``RecipeError/notAcquired(_:)``, and `body` did not run.
    @discardableResult
    public func withReadLock<T: Sendable>(
        timeout: Duration? = nil, _ body: @escaping @Sendable (LockLease) async throws -> T
    ) async throws -> T {
        try await reader.withLease(timeout: timeout, what: "read lock \(path)", body)
    }

    /// Runs `body` with exclusive access, cancelled if the session is lost. Not acquired within
    /// `timeout`: ``RecipeError/notAcquired(_:)``, and `body` did not run.
    @discardableResult
    public func withWriteLock<T: Sendable>(
        timeout: Duration? = nil, _ body: @escaping @Sendable (LockLease) async throws -> T
    ) async throws -> T {
        try await writer.withLease(timeout: timeout, what: "write lock \(path)", body)
    }
}
