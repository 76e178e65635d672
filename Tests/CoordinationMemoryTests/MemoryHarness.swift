import Coordination
import CoordinationMemory
import CoordinationTesting

/// The conformance suite's harness for the embedded store, and the example README's "A backend of
/// your own" shows verbatim (``ReadmeExampleTests`` keeps the two the same): public API only.
struct MemoryHarness: ConformanceHarness {
    // One server per harness: every handle a check opens must reach the same store. Its clock
    // moves only when told, so that an expiry takes the same path as in production.
    let clock = ManualClock()
    let server: MemoryServer

    init() {
        server = MemoryServer(clock: clock)
    }

    var backendName: String { "memory" }

    // A new handle with a session of its own, under `namespace`; the suite also opens one at
    // `.root` after each check, to delete the check's namespace.
    func openStore(namespace: Key) async throws -> any CoordinationStore {
        try await server.connect(namespace: namespace)
    }

    // As the server would after the TTL: contact lost, the TTL running out on its clock, then
    // contact back, when the handle learns of the expiry (as a ZooKeeper or etcd client does).
    // Returns once the handle has said `expired`, so that the suite's next call meets the new
    // session, not the cut.
    func expireSession(of store: any CoordinationStore) async throws {
        let store = try Self.memoryStore(store)
        let events = store.sessionEvents()
        store.simulateDisconnect()
        clock.advance(by: store.session.ttl + .seconds(1))
        store.simulateReconnect()
        for await event in events where event.state == .expired { break }
    }

    // Lost contact without touching the session on the server (a server backend cuts a TCP relay
    // of the handle's own): calls fail with `connectionLoss`, the session is `suspended`.
    func cutConnection(of store: any CoordinationStore) async throws {
        try Self.memoryStore(store).simulateDisconnect()
    }

    func healConnection(of store: any CoordinationStore) async throws {
        try Self.memoryStore(store).simulateReconnect()
    }

    private static func memoryStore(_ store: any CoordinationStore) throws -> MemoryStore {
        guard let store = store as? MemoryStore else {
            throw CoordinationError(.unsupported, "the memory harness can only drive MemoryStore handles")
        }
        return store
    }
}
