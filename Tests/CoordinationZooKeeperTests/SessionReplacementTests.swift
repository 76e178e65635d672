import Coordination
import CoordinationTestSupport
import Testing

@testable import CoordinationZooKeeper

/// Calls in the moments between an expired session and the handle that replaces it.
@Suite("ZooKeeper calls while an expired session is replaced")
struct SessionReplacementTests {
    /// The dead handle refuses a call (`ZINVALIDSTATE`) and the call waits for the new session;
    /// closing the store meanwhile ends the wait as every call on a closed handle ends:
    /// `unavailable`, not `sessionExpired` (the session did not expire, the handle was closed).
    @Test func aCallWaitingForTheNewSessionWhenTheStoreClosesIsUnavailable() async throws {
        let namespace = ZooKeeperTestEnvironment.uniqueNamespace()
        // Long enough that the call still waits when the close comes.
        let store = try await ZooKeeperTestEnvironment.openRelayedStore(namespace: namespace, sessionTimeout: .seconds(20))
        // No new handle (as when no host name resolves): the dead one stays, refusing every call.
        store.connection.refuseNextHandles(1_000)
        try await ZooKeeperSessionDrill.expire(store)
        let call = Task { try await store.get(try Key("/anything")) }
        try await withDeadline("the call to wait for a new session") {
            while store.connection.callsAwaitingSession == 0 { try await Task.sleep(for: .milliseconds(10)) }
        }
        await store.close()
        let error = await #expect(throws: CoordinationError.self) { _ = try await call.value }
        #expect(error?.code == .unavailable, "\(String(describing: error))")
        await ZooKeeperTestEnvironment.cleanUp(namespace)
    }

    /// The dead handle refuses a call (`ZINVALIDSTATE`) and the call waits a session timeout for
    /// the new session; when none comes (every replacement handle refused, as when no host name
    /// resolves) the call fails `sessionExpired`, as a transaction does: the session it was made
    /// in is over and its ephemeral keys are gone. Not `unavailable`, which reads as a server out
    /// of reach while the session may live.
    @Test func aCallWhoseNewSessionNeverComesFailsSessionExpired() async throws {
        let namespace = ZooKeeperTestEnvironment.uniqueNamespace()
        // Short, since each call waits a whole session timeout for the new session.
        let store = try await ZooKeeperTestEnvironment.openRelayedStore(namespace: namespace, sessionTimeout: .seconds(2))
        store.connection.refuseNextHandles(1_000)
        try await ZooKeeperSessionDrill.expire(store)
        let read = Task { try await store.get(try Key("/anything")) }
        try await withDeadline("the read to wait for a new session") {
            while store.connection.callsAwaitingSession == 0 { try await Task.sleep(for: .milliseconds(10)) }
        }
        let readError = await #expect(throws: CoordinationError.self) { _ = try await read.value }
        #expect(readError?.code == .sessionExpired, "\(String(describing: readError))")
        let transactionError = await #expect(throws: CoordinationError.self) {
            _ = try await store.transaction([.create(try Key("/a"), value: [], mode: .persistent)])
        }
        #expect(transactionError?.code == .sessionExpired, "\(String(describing: transactionError))")
        await store.close()
        await ZooKeeperTestEnvironment.cleanUp(namespace)
    }

    /// The replacement handle's first session event can come before the store has put the
    /// handle in place of the dead one: a call told the session is live then met the dead
    /// handle again and again, and failed `sessionExpired` in a working session. A pause between
    /// making the handle and installing it (a slow thread) makes that moment long.
    @Test func aCallJustAfterTheNewSessionConnectedGoesToTheNewHandle() async throws {
        try await ZooKeeperTestEnvironment.withStore(relayed: true) { store in
            let before = store.session
            let events = store.sessionEvents()
            store.connection.pauseBeforeInstallingHandles(.seconds(2))
            try await ZooKeeperSessionDrill.expire(store)
            _ = try await firstElement("new session after the expiry", of: events) { $0.state == .connected && $0.sessionID != before.sessionID }
            #expect(try await store.get(try Key("/anything")) == nil)
            _ = try await store.create(try Key("/mine"), mode: .ephemeral)
        }
    }
}
