import Coordination
@testable import CoordinationEtcd
import CoordinationLocalServers
import CoordinationTestSupport
import Foundation
import Testing

/// Closing the store's request loop ends what is in flight at once: a server that does not
/// answer (across a partition) must not hold a caller up to the request time-out after close.
@Suite struct CurlMultiLoopCloseTests {
    @Test func closingEndsARequestInFlightAtOnce() async throws {
        let relay = try TCPRelay(upstreams: SharedEtcd.endpoints) { false }
        defer { relay.stop() }
        relay.blackHole()
        let loop = CurlMultiLoop(maxTransfers: 2, name: "etcd-close-test", tls: nil)
        let request = GatewayRequest(
            baseURL: "http://\(relay.address)", path: "/v3/kv/range", body: Array(#"{"key":"eA=="}"#.utf8), token: nil,
            timeout: .seconds(60))
        let delivery = Task { await loop.perform(request) }
        // In flight once the relay has its connection (and holds the request in its black hole).
        try await withDeadline("the request's connection", limit: .seconds(10)) {
            while relay.connectionsMade == 0 { try await Task.sleep(for: .milliseconds(5)) }
        }
        let closed = ContinuousClock.now
        loop.close()
        let ended = await delivery.value
        guard case .cutShort = ended else {
            Issue.record("a request in flight at close ended as \(ended), not cut short")
            return
        }
        // Before, close let it run on to its 60 s time-out; now it ends at once (a bound for a
        // loaded machine).
        #expect(closed.duration(to: .now) < .seconds(10))
        // Later requests are not sent.
        guard case .notSent = await loop.perform(request) else {
            Issue.record("a request after close was sent")
            return
        }
    }
}
