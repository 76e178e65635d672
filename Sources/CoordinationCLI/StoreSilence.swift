import Coordination
import CoordinationRecipes

/// Whether coord, on its way out, found its store silent, and the allowance its tidy-up shares
/// (``TidyUpAllowance``): a lock given up at its --timeout waits for its entry's removal, then
/// for the removal of the lock's key, within one second without an answer in all, not a second
/// each (``HeldCommand/removingIfUnused(_:in:noting:_:)``); the session out of contact counts as
/// silent too. Closing the session then only asks a server that does not answer to end it: it
/// waited 1.5 to 3 s for nothing (etcd's lease revoke up to 2 s). So the close is started but not
/// waited for, and what the session holds ends with it when it expires, within its TTL, as it
/// would have after a close the server never heard. A store that answers, however slowly, is
/// never taken for silent: every step is waited for, and its close ends the session at once.
final class StoreSilence: Sendable {
    /// What every step of coord's tidy-up waits within, the lock's entry's removal included.
    let tidyUp = TidyUpAllowance()

    /// Says the store is silent: nothing more is waited for, its close included.
    func note() { tidyUp.noteStoreSilent() }

    var isKnown: Bool { tidyUp.storeFoundSilent }

    /// Closes `store`: waits for it, unless the store is known silent.
    func close(_ store: any CoordinationStore) async {
        guard isKnown else { return await store.close() }
        // Started, so that a server that answers after all still hears it before coord exits.
        _ = await FirstAnswer.within(.zero) { await store.close() }
    }
}
