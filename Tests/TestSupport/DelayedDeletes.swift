import Coordination
import Synchronization

/// Wraps a store whose deletes are answered late, as a server gone slow, or never, as one gone
/// silent with its connection open: each delete is applied and answered after `delay`, or, with
/// none, neither applied nor answered until the caller gives up on it (cancels it). Everything
/// else passes straight through.
public final class DelayedDeletes: ForwardingStore {
    public let base: any CoordinationStore
    private let delay: Duration?
    private let asked = Mutex<[Key]>([])
    private let requests = AsyncStream<Key>.makeStream()

    /// - Parameter delay: how long each delete waits before it is applied and answered; `nil`:
    ///   never answered.
    public init(_ base: any CoordinationStore, answeringAfter delay: Duration?) {
        self.base = base
        self.delay = delay
    }

    /// The keys deletes were asked for, in order, answered or not.
    public var deletesAsked: [Key] { asked.withLock { $0 } }

    /// Each key a delete is asked for, as it is asked (for one reader): for a delete that goes on
    /// after whatever asked for it has returned.
    public var deleteRequests: AsyncStream<Key> { requests.stream }

    public func delete(_ key: Key, ifVersion: Int64?, recursive: Bool) async throws {
        asked.withLock { $0.append(key) }
        requests.continuation.yield(key)
        guard let delay else {
            try await Task.sleep(for: .seconds(3600))
            throw CancellationError()
        }
        try await Task.sleep(for: delay)
        try await base.delete(key, ifVersion: ifVersion, recursive: recursive)
    }
}
