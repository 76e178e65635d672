import Coordination
import CoordinationRecipes
import Synchronization

/// Whether coord, on its way out, found its store silent: a request left unanswered for as long as
/// a server that answers never takes (the lock's key's removal, ``HeldCommand/removingIfUnused(_:in:noting:_:)``),
/// or the session out of contact. Closing the session then only asks a server that does not
/// answer to end it: it waited 1.5 to 3 s for nothing (etcd's lease revoke up to 2 s), after a
/// lock given up at its --timeout had already spent a second on its entry and another on its key. So the close is
/// started but not waited for, and what the session holds ends with it when it expires, within its
/// TTL, as it would have after a close the server never heard. A store that answers, however
/// slowly, is never taken for silent: its close is waited for, and ends the session at once.
final class StoreSilence: Sendable {
    private let known = Atomic<Bool>(false)

    /// Says the store is silent: its close is not waited for.
    func note() { known.store(true, ordering: .relaxed) }

    var isKnown: Bool { known.load(ordering: .relaxed) }

    /// Closes `store`: waits for it, unless the store is known silent.
    func close(_ store: any CoordinationStore) async {
        guard isKnown else { return await store.close() }
        // Started, so that a server that answers after all still hears it before coord exits.
        _ = await FirstAnswer.within(.zero) { await store.close() }
    }
}
