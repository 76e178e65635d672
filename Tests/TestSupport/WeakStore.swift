import Coordination
import Synchronization

/// The store a relay serves, held weakly so that the relay can tell when it is no longer needed.
public final class WeakStore<Store: CoordinationStore & AnyObject>: Sendable {
    private struct Reference {
        weak var store: Store?
        var opened = false
    }
    private let reference = Mutex(Reference())

    public init() {}

    public func hold(_ store: Store) {
        reference.withLock { $0 = Reference(store: store, opened: true) }
    }

    /// `true` once the store was released: its identifier may then be another store's.
    public var isReleased: Bool {
        reference.withLock { $0.opened && $0.store == nil }
    }

    /// `true` once the store was closed or released (never while it is still being opened).
    public var isGone: Bool {
        reference.withLock { reference in
            guard reference.opened else { return false }
            guard let store = reference.store else { return true }
            return store.session.state == .closed
        }
    }
}
