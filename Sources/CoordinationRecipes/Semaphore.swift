public import Coordination
public import Logging

/// A distributed counting semaphore: at most `permits` holders at once under `path`.
///
/// Holders are the first `permits` contenders of the queue: a contender's entries beyond the one
/// it uses (a create of its join whose reply was lost, landing late) take no permit. Unlike ``Lock``, a waiter watches every
/// entry ahead of it, because any of them leaving can let it in; each departure wakes every waiter
/// behind it once (a bounded herd, the price of N holders), while arrivals behind wake nobody.
public struct Semaphore: Sendable {
    public let store: any CoordinationStore
    public let path: Key
    public let permits: Int
    let acquirer: QueueAcquirer

    public init(
        store: any CoordinationStore, path: Key, permits: Int, logger: Logger = Logger(label: "coordination.semaphore")
    ) throws {
        guard permits > 0 else {
            throw CoordinationError(.invalidConfiguration, "a semaphore needs at least one permit, got \(permits)")
        }
        self.store = store
        self.path = path
        self.permits = permits
        self.acquirer = QueueAcquirer(
            queue: SequentialQueue(store: store, path: path), prefix: "permit", admission: .firstOf(permits), logger: logger)
    }

    /// Waits for a permit; `nil` after `timeout`, giving up as ``Lock/acquire(timeout:value:tidyingUp:)`` does.
    public func acquire(timeout: Duration? = nil, tidyingUp tidyUp: TidyUpAllowance = TidyUpAllowance()) async throws -> LockLease? {
        try await acquirer.acquire(timeout: timeout, value: [], tidyingUp: tidyUp)
    }

    /// Runs `body` holding a permit, cancelled if the session is lost. No permit within `timeout`:
    /// ``RecipeError/notAcquired(_:)``, and `body` did not run.
    @discardableResult
    public func withPermit<T: Sendable>(
        timeout: Duration? = nil, _ body: @escaping @Sendable (LockLease) async throws -> T
    ) async throws -> T {
        try await acquirer.withLease(timeout: timeout, what: "a permit of semaphore \(path)", body)
    }
}
