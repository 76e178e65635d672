import Coordination
import CoordinationLocalServers
import CoordinationZooKeeper
import Logging

/// ZooKeeper handles whose session a test can end from the server's side, deterministically.
///
/// Each handle connects through a ``TCPRelay`` of its own. ``expire(_:timeout:)`` cuts the relay,
/// so the handle cannot reconnect and win its session back; a second connection straight to the
/// server takes the session over and closes it; once the server says the session is over, the
/// relay is healed, and the handle, back on the server, learns that its session expired and starts
/// a new one, as after a real expiry.
public enum ZooKeeperSessionDrill {
    private static let relays = StoreRelays<ZooKeeperStore>()

    /// Opens a store on `hosts` through a relay of its own. The relay stops once the store closes.
    public static func open(
        hosts: [String], namespace: Key, sessionTimeout: Duration, user: String? = nil, password: String? = nil,
        logger: Logger
    ) async throws -> ZooKeeperStore {
        let owner = WeakStore<ZooKeeperStore>()
        let relay = try TCPRelay(upstreams: hosts) { owner.isGone }
        do {
            let store = try await ZooKeeperStore(
                configuration: ZooKeeperConfiguration(
                    hosts: [relay.address], namespace: namespace, sessionTimeout: sessionTimeout, user: user, password: password),
                logger: logger)
            owner.hold(store)
            relays.add(relay, for: store, owner: owner)
            return store
        } catch {
            relay.stop()
            throw error
        }
    }

    /// Drops `store`'s connection and refuses new ones until ``heal(_:)``; the server keeps the
    /// session for its timeout, so a short cut only suspends it.
    /// - Throws: `unsupported` for a store not opened by ``open(hosts:namespace:sessionTimeout:user:password:logger:)``.
    public static func cut(_ store: ZooKeeperStore) throws {
        try relay(of: store).cut()
    }

    /// Lets `store` reach the server again; it reconnects by itself.
    public static func heal(_ store: ZooKeeperStore) throws {
        try relay(of: store).heal()
    }

    private static func relay(of store: ZooKeeperStore) throws -> TCPRelay {
        guard let relay = relays.relay(of: store) else {
            throw CoordinationError(.unsupported, "this ZooKeeperStore was not opened through ZooKeeperSessionDrill.open")
        }
        return relay
    }

    /// Ends `store`'s session from the server's side and returns once the store reported it.
    /// - Throws: `unsupported` for a store not opened by ``open(hosts:namespace:sessionTimeout:user:password:logger:)``;
    ///   `timeout` when the store does not report the expiry in time.
    public static func expire(_ store: ZooKeeperStore, timeout: Duration = .seconds(60)) async throws {
        let relay = try relay(of: store)
        let original = store.session.sessionID
        relay.cut()
        do {
            try await endOnServer(store, hosts: relay.upstreams, within: min(timeout, .seconds(30)))
        } catch {
            relay.heal()
            throw error
        }
        relay.heal()
        let ended = await store.waitForSession(within: timeout) {
            $0.state == .expired || $0.state == .closed || $0.sessionID != original
        }
        if ended == nil {
            throw CoordinationError(.timeout, "the store did not report its session \(original) expired within \(timeout)")
        }
    }

    /// Closes `store`'s session from other connections to `hosts` until the server answers one
    /// of them that the session has expired. A takeover returns once its close is sent, not done,
    /// and the relay healed then let the handle race it: a server that reads the handle's
    /// reconnect first drops the session's older connection (ZooKeeper's CLIENT_RECONNECT), the
    /// close unread with it, and the handle keeps its session for good; the drill then waited out
    /// its whole time-out for an expiry that could not come. The C client retries a refused
    /// connection every sixtieth of its session timeout (0.17 s for 10 s), so a server busy for
    /// longer than that lost the race.
    private static func endOnServer(_ store: ZooKeeperStore, hosts: [String], within limit: Duration) async throws {
        let deadline = ContinuousClock.now + limit
        while try await !store.closeSessionFromAnotherHandle(hosts: hosts, timeout: ContinuousClock.now.duration(to: deadline)) {
            guard ContinuousClock.now < deadline else {
                throw CoordinationError(.timeout, "the server did not end session \(store.session.sessionID) within \(limit)")
            }
        }
    }
}
