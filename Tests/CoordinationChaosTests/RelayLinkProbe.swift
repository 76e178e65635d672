import CoordinationLocalServers
import Foundation

/// An upstream listener and connections through a relay to it, read without blocking: what a
/// worker slot's relays do to its traffic (relayed, dropped, or silently held).
final class RelayLinkProbe {
    let upstream: Int32
    let upstreamPort: Int
    private var descriptors: [Int32] = []

    init() throws {
        (upstream, upstreamPort) = try LoopbackSocket.listen()
        descriptors.append(upstream)
        _ = fcntl(upstream, F_SETFL, fcntl(upstream, F_GETFL) | O_NONBLOCK)
    }

    deinit { for descriptor in descriptors { close(descriptor) } }

    /// How long a check waits for what should happen. Generous: a fresh-clone CI run starts these
    /// tests among hundreds of others, when 2 s went by with the probe barely run, and all four
    /// relay tests failed to link. A check for what must not happen takes a short limit instead.
    static let patience: Duration = .seconds(20)

    /// A connection through the relay at `relayAddress` and its upstream end, `nil` when the relay
    /// does not carry it to the upstream within `limit`.
    func link(through relayAddress: String, within limit: Duration = patience) async throws -> (client: Int32, server: Int32)? {
        guard let port = relayAddress.split(separator: ":").last.flatMap({ Int($0) }),
            let client = LoopbackSocket.connect(port: port, timeout: limit)
        else { return nil }
        descriptors.append(client)
        let deadline = ContinuousClock.now + limit
        while ContinuousClock.now < deadline {
            let server = accept(upstream, nil, nil)
            if server >= 0 {
                descriptors.append(server)
                return (client, server)
            }
            try await Task.sleep(for: .milliseconds(10))
        }
        return nil
    }

    /// Sends a byte from `from` and says whether `to` receives it within `limit`.
    func carries(from: Int32, to: Int32, within limit: Duration = patience) async throws -> Bool {
        var byte: UInt8 = 0x2A
        guard send(from, &byte, 1, Int32(MSG_NOSIGNAL)) == 1 else { return false }
        let deadline = ContinuousClock.now + limit
        while ContinuousClock.now < deadline {
            if recv(to, &byte, 1, Int32(MSG_DONTWAIT)) == 1 { return true }
            try await Task.sleep(for: .milliseconds(10))
        }
        return false
    }

    /// Whether the relay closed `client`'s connection within `limit` (its end reads end of stream).
    func isDropped(_ client: Int32, within limit: Duration = patience) async throws -> Bool {
        let deadline = ContinuousClock.now + limit
        var byte: UInt8 = 0
        while ContinuousClock.now < deadline {
            let count = recv(client, &byte, 1, Int32(MSG_DONTWAIT))
            if count == 0 || (count < 0 && errno != EAGAIN && errno != EWOULDBLOCK) { return true }
            try await Task.sleep(for: .milliseconds(10))
        }
        return false
    }
}
