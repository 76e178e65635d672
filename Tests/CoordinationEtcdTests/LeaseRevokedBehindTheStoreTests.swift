import Coordination
@testable import CoordinationEtcd
import Testing

/// A lease revoked behind the store's back (an operator's `etcdctl lease revoke`, or etcd ending
/// it by its own count) still answers keep-alives with HTTP 200, only without a TTL. The store
/// must read that as the session gone at its next keep-alive: report `expired`, then a new
/// session. Taking a TTL-less answer for a renewal left the store trusting a session whose
/// ephemeral keys etcd had already deleted, for ever (every later keep-alive says the same).
@Suite struct LeaseRevokedBehindTheStoreTests {
    @Test func aRevokedLeaseExpiresTheSessionAtTheNextKeepAlive() async throws {
        guard await SharedEtcd.shouldRun() else { return }
        let namespace = SharedEtcd.uniqueNamespace("revoked-lease")
        // Keep-alives every 5 s: the expiry must come by the next one, long before the TTL.
        let ttl = Duration.seconds(15)
        let store = try await SharedEtcd.open(namespace, ttl: ttl)
        let observer = try await SharedEtcd.open(namespace)
        let key = try Key("/mine")
        _ = try await store.create(key, value: [1], mode: .ephemeral)
        var events = store.sessionEvents().makeAsyncIterator()
        let before = try await next(&events, "the current session state")
        #expect(before.state == .connected)
        let lease = try #require(store.leaseID)

        let revokedAt = ContinuousClock.now
        try await EtcdAdmin(endpoints: SharedEtcd.endpoints).revoke(lease: lease)
        // The keep-alive interval (a third of the TTL) plus as much again for a loaded machine;
        // still a third short of the TTL.
        let expired = try await next(&events, "expired at the next keep-alive", timeout: ttl * 2 / 3)
        #expect(expired.state == .expired, "\(expired)")
        #expect(expired.sessionID == before.sessionID, "the expiry names the revoked session")
        #expect(expired.lastContact <= revokedAt, "the last contact reported came before the revoke")
        #expect(ContinuousClock.now - revokedAt < ttl, "expired long before the TTL would have ended the lease")

        let renewed = try await next(&events, "the new session")
        #expect(renewed.state == .connected, "\(renewed)")
        #expect(renewed.sessionID != before.sessionID, "a new session, got \(renewed.sessionID) again")
        #expect(store.leaseID != nil && store.leaseID != lease, "a new lease")
        #expect(try await observer.get(key) == nil, "the revoked session's ephemeral key is gone")
        // The handle goes on in its new session: the key made again belongs to it.
        let again = try await store.create(key, value: [2], mode: .ephemeral)
        #expect(again.ownerSession == renewed.sessionID, "\(again)")
        await SharedEtcd.tidy([store, observer], namespace)
    }
}
