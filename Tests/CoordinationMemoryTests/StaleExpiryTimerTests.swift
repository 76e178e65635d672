import Coordination
@testable import CoordinationMemory
import Testing

/// Every cut arms an expiry timer; contact coming back and a later cut move the session's
/// generation on, so that a timer armed for an earlier cut does nothing when it fires. Otherwise a
/// handle cut off twice would lose its session one TTL after the first cut, before its TTL ran out
/// since the second.
@Suite struct StaleExpiryTimerTests {
    @Test func aTimerArmedForAnEarlierCutLeavesTheSessionAlone() async throws {
        let server = MemoryServer(clock: ManualClock())
        let store = try await server.connect(sessionTTL: .seconds(5))
        let observer = try await server.connect()
        defer { Task { await store.close(); await observer.close() } }
        let key = try Key("/held")
        _ = try await store.create(key, value: [], mode: .ephemeral)
        let session = store.sessionNumber
        store.simulateDisconnect()
        let firstCut = try #require(server.state.withLock { $0.sessions[session]?.expiryGeneration })
        store.simulateReconnect()
        store.simulateDisconnect()
        // What the first cut's timer does when it fires (the clock is left alone, so the real
        // timers wait): called here, it is the only expiry that can have run.
        server.expire(session: session, ifGeneration: firstCut)
        #expect(try await observer.exists(key), "the first cut's timer ended a session cut off again since")
        store.simulateReconnect()
        #expect(store.session.state == .reconnected)
        #expect(store.sessionNumber == session)
    }
}
