import Coordination
@testable import CoordinationEtcd
import CoordinationLocalServers
import CoordinationTestSupport
import Foundation
import Logging
import Testing

/// What an ephemeral write says while the session's new lease cannot be had must be why the
/// latest grant failed. A grant refused for the login (a password changed) used to be kept as
/// "etcd refuses the login" until a grant succeeded: when the next tries failed for another
/// reason (etcd out of reach), with the password meanwhile set right, ephemeral writes went on
/// failing at once with `unauthenticated`, "etcd refuses the login a new one needs", which was
/// no longer so, instead of waiting for the new session as in any other outage.
///
/// Starts an etcd of its own (auth cannot be turned on in the shared one), reached through a
/// relay that can cut the store off.
@Suite(.serialized, .serverLoadLimit, .etcdBinary)
struct StaleGrantRefusalServerTests {
    @Test func aGrantLostToAnOutageAfterARefusedLoginIsNotReportedAsRefused() async throws {
        try await EtcdCluster.with { cluster in
            try await cluster.admin.enableRootAuth(password: "s3cret")
            var admin = cluster.admin
            admin.user = "root"
            admin.password = "s3cret"
            let owner = WeakStore<EtcdStore>()
            let relay = try TCPRelay(upstreams: cluster.endpoints) { owner.isGone }
            defer { relay.stop() }
            let logs = CapturedLogs()
            let ttl = Duration.seconds(4)
            let store = try await EtcdStore(
                endpoints: [relay.address], namespace: try Key("/stale-refusal"), ttl: ttl, user: "root", password: "s3cret",
                requestTimeout: .seconds(5), logger: logs.logger(label: "test.etcd.stale-refusal"))
            owner.hold(store)
            let key = try Key("/mine")

            // etcd comes to refuse the store's login, and its session ends: the new lease's grant
            // is refused, and an ephemeral write says so at once.
            _ = try await admin.call("/v3/auth/user/changepw", ["name": "root", "password": "changed"])
            admin.password = "changed"
            try await admin.revoke(lease: try #require(store.leaseID))
            try await eventually("the new session's grant refused for its login") { store.keeper.grantRefusal != nil }
            let refused = await #expect(throws: CoordinationError.self) { _ = try await store.create(key, mode: .ephemeral) }
            #expect(refused?.code == .unauthenticated, "\(String(describing: refused))")

            // The store is cut off, and a grant fails for that; the password is set right meanwhile.
            let failuresBefore = logs.lines(containing: "etcd lease grant failed").count
            relay.cut()
            try await eventually("a grant failed for the outage") {
                logs.lines(containing: "etcd lease grant failed").dropFirst(failuresBefore).contains { !$0.contains("unauthenticated") }
            }
            _ = try await admin.call("/v3/auth/user/changepw", ["name": "root", "password": "s3cret"])

            // Nothing says the login is refused now: the write waits for the new session (none
            // comes while cut off) and says the session expired, as in any outage.
            let started = ContinuousClock.now
            let lost = await #expect(throws: CoordinationError.self) { _ = try await store.create(key, mode: .ephemeral) }
            #expect(lost?.code == .sessionExpired, "\(String(describing: lost))")
            #expect(lost?.message.contains("refuses the login") == false, "\(String(describing: lost))")
            #expect(ContinuousClock.now - started >= ttl / 2, "the write waited for a new session")

            // Back in reach, the store gets its new session and the write goes through.
            relay.heal()
            let created = try await store.create(key, mode: .ephemeral)
            #expect(created.isEphemeral && created.ownerSession == store.session.sessionID, "\(created)")
            await store.close()
        }
    }
}
