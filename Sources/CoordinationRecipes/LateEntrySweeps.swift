import Coordination
import Synchronization

/// The running sweeps of late entries (see ``SequentialQueue/removeLateEntries(stem:session:)``):
/// one per handle, queue and session, shared by every join of that session whose create may
/// still land. One task and one watch each had a long-lived session that lost many replies
/// gather a sweep per such acquisition, each lasting until the session ended.
final class LateEntrySweeps: Sendable {
    static let shared = LateEntrySweeps()

    /// What one sweep serves: a handle (by identity), a queue, a session.
    struct Owner: Hashable, Sendable {
        let handle: ObjectIdentifier
        let path: Key
        let sessionID: String

        /// `nil` for a handle that is not an object: it has no identity to share a sweep by.
        init?(store: any CoordinationStore, path: Key, sessionID: String) {
            guard type(of: store) is AnyClass else { return nil }
            self.handle = ObjectIdentifier(store as AnyObject)
            self.path = path
            self.sessionID = sessionID
        }
    }

    private struct Sweep {
        /// Held so that the handle's identity is not reused by another while the sweep runs.
        let store: any CoordinationStore
        var stems: Set<String>
    }

    private let sweeps = Mutex<[Owner: Sweep]>([:])

    /// Adds `stem` to `owner`'s sweep. Returns `true` when there was none: the caller starts it
    /// (reading its stems with ``stems(of:)``) and ends it with ``end(_:)``.
    func add(_ stem: String, to owner: Owner, store: any CoordinationStore) -> Bool {
        sweeps.withLock { sweeps in
            if sweeps[owner] != nil {
                sweeps[owner]!.stems.insert(stem)
                return false
            }
            sweeps[owner] = Sweep(store: store, stems: [stem])
            return true
        }
    }

    /// The stems `owner`'s sweep removes now.
    func stems(of owner: Owner) -> Set<String> {
        sweeps.withLock { $0[owner]?.stems ?? [] }
    }

    /// Forgets `owner`'s sweep, once its task has ended: a later join in need of one starts it again.
    func end(_ owner: Owner) {
        _ = sweeps.withLock { $0.removeValue(forKey: owner) }
    }
}
