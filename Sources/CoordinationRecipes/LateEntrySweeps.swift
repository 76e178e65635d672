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
        /// Each stem, with the count of additions when it was added.
        var stems: [String: Int]
        /// Stems added so far (the clock of ``stems``).
        var additions: Int
        /// The additions the sweep had when it last looked at the queue (an event of its watch).
        var looked = 0
    }

    private let sweeps = Mutex<[Owner: Sweep]>([:])

    /// Adds `stem` to `owner`'s sweep. Returns `true` when there was none: the caller starts it
    /// (reading its stems with ``stems(of:)`` each time it looks at the queue) and ends it with
    /// ``end(_:)``, running it again while that says a fresh one took its place.
    func add(_ stem: String, to owner: Owner, store: any CoordinationStore) -> Bool {
        sweeps.withLock { sweeps in
            if sweeps[owner] != nil {
                sweeps[owner]!.additions += 1
                sweeps[owner]!.stems[stem] = sweeps[owner]!.stems[stem] ?? sweeps[owner]!.additions
                return false
            }
            // Counted as added once: a sweep that ends before it first looks at the queue has not
            // looked for the stem it was started for either, which had only its caller's listing.
            sweeps[owner] = Sweep(store: store, stems: [stem: 1], additions: 1)
            return true
        }
    }

    /// The stems `owner`'s sweep removes now, read as it looks at the queue: from then on it has
    /// looked for each of them.
    func stems(of owner: Owner) -> Set<String> {
        sweeps.withLock { sweeps in
            guard let sweep = sweeps[owner] else { return [] }
            sweeps[owner]!.looked = sweep.additions
            return Set(sweep.stems.keys)
        }
    }

    /// Ends `owner`'s sweep, once its task has ended: a later join in need of one starts it
    /// again. Stems added after it last looked at the queue (just as it ended, on a failure that
    /// will not pass, or the handle closing), or the one it was started for when it never looked,
    /// got nothing of it but the one listing their adders made: a create of theirs landing later
    /// stayed in line for nobody while the session lived. They go to a fresh sweep, which looks
    /// for them as it starts.
    /// - Returns: `true` when there is such a sweep: the caller runs it, as the one that ended.
    func end(_ owner: Owner) -> Bool {
        sweeps.withLock { sweeps in
            guard let sweep = sweeps.removeValue(forKey: owner) else { return false }
            let unseen = sweep.stems.filter { $0.value > sweep.looked }
            if unseen.isEmpty { return false }
            // Counted as added before the fresh sweep began: handed on once, not again and again
            // by fresh sweeps failing the same way before they look.
            sweeps[owner] = Sweep(store: sweep.store, stems: unseen.mapValues { _ in 0 }, additions: 0)
            return true
        }
    }
}
