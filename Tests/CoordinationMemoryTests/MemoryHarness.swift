import Coordination
import CoordinationMemory
import CoordinationTesting

/// Runs the conformance suite on one in-process ``MemoryServer`` driven by a ``ManualClock``, so
/// that session expiry goes through the same path as in production: contact lost, then the TTL
/// running out on the server's clock.
struct MemoryHarness: ConformanceHarness {
    let clock = ManualClock()
    let server: MemoryServer

    init() {
        server = MemoryServer(clock: clock)
    }

    var backendName: String { "memory" }

    func openStore(namespace: Key) async throws -> any CoordinationStore {
        try await server.connect(namespace: namespace)
    }

    func expireSession(of store: any CoordinationStore) async throws {
        guard let store = store as? MemoryStore else {
            throw CoordinationError(.unsupported, "the memory harness can only expire MemoryStore handles")
        }
        let events = store.sessionEvents()
        store.simulateDisconnect()
        clock.advance(by: store.session.ttl + .seconds(1))
        // The server's expiry runs in a task of its own: returning before it, as this did, let
        // the suite's calls "right after the expiry" meet the cut instead (1 run in 6 failed).
        for await event in events where event.state == .expired { break }
    }

    /// The store's own simulation of lost contact: calls fail with `connectionLoss`, the session is
    /// `suspended`, and the server's clock (which only the harness advances) never reaches the TTL.
    func cutConnection(of store: any CoordinationStore) async throws {
        guard let store = store as? MemoryStore else {
            throw CoordinationError(.unsupported, "the memory harness can only cut MemoryStore handles")
        }
        store.simulateDisconnect()
    }

    func healConnection(of store: any CoordinationStore) async throws {
        guard let store = store as? MemoryStore else {
            throw CoordinationError(.unsupported, "the memory harness can only heal MemoryStore handles")
        }
        store.simulateReconnect()
    }
}
