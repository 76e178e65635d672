import Coordination
import Foundation
import Synchronization

/// Telling ZooKeeper's client port from etcd's after an endpoint hung up without a word.
///
/// ZooKeeper reads the first four bytes of an HTTP request (`POST`) as the length of a frame of
/// over a gigabyte and closes the connection, sending nothing; a TLS port spoken to in plain HTTP
/// does the same, and there the fix is etcds://. So the silence alone cannot say which, and the
/// hint once sent a user of ZooKeeper's port on to a TLS handshake error. Asking tells them apart:
/// ZooKeeper answers a session handshake (a jute ConnectRequest) with a ConnectResponse, whatever
/// its four-letter-word whitelist allows, and nothing else does. The session it opens is closed
/// at once, so that it does not linger on the server for its timeout.
///
/// Only the failure path asks (a request already failed there), once per failed request, bounded
/// by ``timeout``, on the thread that met the failure or one of its own: never the cooperative pool.
enum ZooKeeperProbe {
    /// How long the whole exchange may take: ZooKeeper answers on loopback in about a millisecond.
    static let timeout = Duration.seconds(1)

    /// A length-prefixed ConnectRequest: protocolVersion 0, lastZxidSeen 0, a timeout of 1 s (the
    /// server raises it to its minimum), sessionId 0 (a new session), a 16-byte zero password
    /// (length-prefixed), readOnly false.
    static let connectRequest: [UInt8] = {
        var body: [UInt8] = []
        func append<T: FixedWidthInteger>(_ value: T) { withUnsafeBytes(of: value.bigEndian) { body += $0 } }
        append(Int32(0))
        append(Int64(0))
        append(Int32(1000))
        append(Int64(0))
        append(Int32(16))
        body += [UInt8](repeating: 0, count: 16)
        body.append(0)
        var request: [UInt8] = []
        withUnsafeBytes(of: Int32(body.count).bigEndian) { request += $0 }
        return request + body
    }()

    /// A length-prefixed closeSession request: xid 1, op -11.
    static let closeRequest: [UInt8] = [0, 0, 0, 8, 0, 0, 0, 1, 0xFF, 0xFF, 0xFF, 0xF5]

    /// Whether `reply` begins with a ConnectResponse: a length of 36 (37 with the readOnly flag),
    /// protocolVersion 0, then after the timeout and session id a password of 16 bytes.
    static func isConnectResponse(_ reply: [UInt8]) -> Bool {
        guard reply.count >= 24 else { return false }
        let length = int32(reply, at: 0)
        return (length == 36 || length == 37) && int32(reply, at: 4) == 0 && int32(reply, at: 20) == 16
    }

    /// The session id of a ConnectResponse (0: the server refused a session, there is none to close).
    static func sessionID(_ reply: [UInt8]) -> Int64 {
        (0..<8).reduce(Int64(0)) { $0 << 8 | Int64(reply[12 + $1]) }
    }

    private static func int32(_ bytes: [UInt8], at offset: Int) -> Int32 {
        Int32(bitPattern: (0..<4).reduce(UInt32(0)) { $0 << 8 | UInt32(bytes[offset + $1]) })
    }

    /// Whether a ZooKeeper server answers at `endpoint` (a gateway base URL, `http://host:port`
    /// or `https://…`). Blocks up to ``timeout``: call it on a thread of your own.
    static func answers(at endpoint: String) -> Bool {
        anyAddress(of: endpoint, within: timeout) { info, deadline in ask(info, deadline: deadline) }
    }

    /// Whether `ask` says yes for any address `endpoint`'s host resolves to (a gateway base URL,
    /// `http://host:port` or `https://…`), all of it within `limit`. Blocks.
    static func anyAddress(
        of endpoint: String, within limit: Duration, _ ask: (addrinfo, ContinuousClock.Instant) -> Bool
    ) -> Bool {
        let address = endpoint.drop { $0 != "/" }.drop { $0 == "/" }
        guard let hostPort = try? HostPort(String(address), defaultPort: EtcdConfiguration.defaultPort) else { return false }
        let deadline = ContinuousClock.now + limit
        var hints = addrinfo()
        hints.ai_socktype = Int32(SOCK_STREAM.rawValue)
        var found: UnsafeMutablePointer<addrinfo>?
        guard getaddrinfo(hostPort.host, String(hostPort.port), &hints, &found) == 0, let first = found else { return false }
        defer { freeaddrinfo(first) }
        var candidate: UnsafeMutablePointer<addrinfo>? = first
        while let info = candidate, ContinuousClock.now < deadline {
            candidate = info.pointee.ai_next
            if ask(info.pointee, deadline) { return true }
        }
        return false
    }

    /// Connects to one address, sends the handshake and judges the answer; closes the session it opened.
    private static func ask(_ info: addrinfo, deadline: ContinuousClock.Instant) -> Bool {
        guard case .success(let socket) = ProbeSocket.connect(to: info, until: deadline),
            socket.sendAll(connectRequest)
        else { return false }
        let reply = socket.receive(until: deadline, limit: frameLimit, isComplete: isWholeFrame)
        guard isConnectResponse(reply) else { return false }
        if sessionID(reply) != 0, socket.sendAll(closeRequest) {
            // Its reply, or the hang-up after it: the server has ended the session by then.
            _ = socket.receive(until: deadline, limit: frameLimit, isComplete: isWholeFrame)
        }
        return true
    }

    /// The most of a frame read: a ZooKeeper reply here is short, so a longer announced length
    /// is read only in part.
    private static let frameLimit = 64

    /// Whether `reply` holds a whole length-prefixed frame (or as much of one as ``frameLimit`` allows).
    private static func isWholeFrame(_ reply: [UInt8]) -> Bool {
        reply.count >= 4 && reply.count >= 4 + min(Int(max(int32(reply, at: 0), 0)), frameLimit - 4)
    }
}
