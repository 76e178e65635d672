import Coordination
import CoordinationRecipes
import Testing

/// Every recipe that queues through the lock's acquirer, the plain lock included: for tests of
/// what that shared acquirer does, whichever recipe uses it.
enum QueueLock: String, CaseIterable, Sendable, CustomTestStringConvertible {
    case lock, permit, read, write

    var testDescription: String { rawValue }

    func acquire(_ store: any CoordinationStore, _ path: Key, timeout: Duration? = nil) async throws -> LockLease? {
        switch self {
        case .lock: try await Lock(store: store, path: path).acquire(timeout: timeout)
        case .permit: try await LockLike.permit.acquire(store, path, timeout: timeout)
        case .read: try await LockLike.read.acquire(store, path, timeout: timeout)
        case .write: try await LockLike.write.acquire(store, path, timeout: timeout)
        }
    }
}
