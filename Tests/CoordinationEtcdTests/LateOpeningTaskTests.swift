import Coordination
@testable import CoordinationEtcd
import CoordinationLocalServers
import CoordinationTestSupport
import Synchronization
import Testing

/// The session's keep-alives must not wait for the task that opened the store. They did: the
/// keeper's thread was started by that task once the grant's reply had resumed it, so with the
/// cooperative pool busy for longer than the TTL (the start of a full test run on two cores) the
/// first keep-alive found the lease already gone, and the session reported `expired` before the
/// caller had done anything at all.
@Suite(.enabled("needs etcd (ETCD_ENDPOINTS, default 127.0.0.1:2379)") { await SharedEtcd.shouldRun() }, .serverLoadLimit)
struct LateOpeningTaskTests {
    @Test func aLeaseGrantedWhileTheOpeningTaskWaitsForAThreadIsKeptAlive() async throws {
        let namespace = SharedEtcd.uniqueNamespace()
        // The opening task runs on an executor of its own, held from the moment the grant's
        // connection is accepted: its thread is "busy" for that task alone, not for other tests.
        let executor = HeldExecutor()
        defer { executor.stop() }
        let grantConnection = Mutex(true)
        let relay = try TCPRelay(upstreams: SharedEtcd.endpoints, onAccept: {
            if grantConnection.withLock({ first in defer { first = false }; return first }) { executor.hold() }
        }) { false }
        defer { relay.stop() }
        let opening = Task(executorPreference: executor) {
            try await SharedEtcd.open(namespace, ttl: .seconds(2), endpoints: [relay.address])
        }
        try await withDeadline("the grant's connection") {
            while relay.connectionsMade == 0 { try await Task.sleep(for: .milliseconds(10)) }
        }
        // Twice the TTL: without keep-alives meanwhile, etcd ends the lease.
        try await Task.sleep(for: .seconds(4))
        executor.release()
        let store = try await opening.value
        let opened = store.session
        let released = ContinuousClock.now
        try await SharedEtcd.using([store], in: namespace) {
            #expect(opened.state == .connected)
            try await eventually("a keep-alive answered after the wait") { store.session.lastContact > released }
            #expect(store.session.sessionID == opened.sessionID, "the lease granted before the wait is still the session's")
            let lease = Int64(bitPattern: try #require(UInt64(opened.sessionID, radix: 16)))
            let left = try await EtcdAdmin(endpoints: SharedEtcd.endpoints).call("/v3/lease/timetolive", ["ID": .int64(lease)])
            #expect((left["TTL"]?.int64Value ?? -1) > 0, "etcd still has the lease")
        }
    }
}
