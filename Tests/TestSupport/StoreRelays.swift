import Coordination
import CoordinationLocalServers
import Synchronization

/// The ``TCPRelay`` in front of each store a harness opened, found by the store.
///
/// An entry stays while its store lives, closed or not (a check may cut or heal a closed
/// handle's relay), and goes once the store is released, whose identifier may then be another
/// store's. Dropping entries whose relay had stopped (their store closed) let any concurrent open
/// forget a closed handle's relay.
public final class StoreRelays<Store: CoordinationStore & AnyObject>: Sendable {
    private let relays = Mutex<[ObjectIdentifier: (relay: TCPRelay, owner: WeakStore<Store>)]>([:])

    public init() {}

    public func add(_ relay: TCPRelay, for store: Store, owner: WeakStore<Store>) {
        relays.withLock { relays in
            relays = relays.filter { !$0.value.owner.isReleased }
            relays[ObjectIdentifier(store)] = (relay, owner)
        }
    }

    /// `store`'s relay; `nil` for a store not opened through this registry.
    public func relay(of store: Store) -> TCPRelay? {
        relays.withLock { $0[ObjectIdentifier(store)]?.relay }
    }
}
