import Foundation
import Synchronization

/// A loopback relay in front of one etcd member's peer port, which cuts that member off from
/// chosen peers while every client port stays up: a network partition without root's tools.
///
/// etcd's raft HTTP requests name their sender's member id (lower-case hex) in `X-Server-From`.
/// The relay reads each connection's request head and closes, unforwarded, a connection from a
/// refused sender, or every connection while its own member is isolated; a refusal also closes the
/// connections it covers that are already open. Advertise the relay's ``address`` as the member's
/// peer URL to every member (``EtcdCluster/advertisePeer(of:at:)``), so that all raft traffic to
/// the member passes through its relay.
public final class PeerRelay: Sendable {
    /// `127.0.0.1:PORT`, the member's advertised peer address.
    public let address: String
    private let upstreamPort: Int
    private let listener: Int32

    private struct State {
        var refusedSenders: Set<String> = []
        var isolated = false
        var stopped = false
        var links: [Int: RelayLink] = [:]
        var nextLink = 0

        func refuses(_ sender: String?) -> Bool {
            stopped || isolated || sender.map { refusedSenders.contains($0) } == true
        }

        func closeRefusedLinks() {
            for link in links.values where refuses(link.sender) { link.shutDown() }
        }
    }
    private let state = Mutex(State())

    /// Starts listening on a free loopback port, relaying to the member's peer port.
    public init(upstreamPort: Int) throws {
        self.upstreamPort = upstreamPort
        let (fd, port) = try LoopbackSocket.listen(backlog: 64)
        listener = fd
        address = "127.0.0.1:\(port)"
        Thread.detachNewThread { [self] in acceptLoop() }
    }

    /// Refuses connections from the members with these ids (hex), or accepts them all again (`[]`).
    public func refuse(senders: Set<String>) {
        state.withLock { state in
            state.refusedSenders = senders
            state.closeRefusedLinks()
        }
    }

    /// Refuses every connection (`true`) until called with `false`: the member hears no peer.
    public func isolate(_ isolated: Bool) {
        state.withLock { state in
            state.isolated = isolated
            state.closeRefusedLinks()
        }
    }

    /// Stops listening and drops every connection.
    public func stop() {
        state.withLock { state in
            state.stopped = true
            state.closeRefusedLinks()
        }
        // Wakes the blocked accept; the accept loop closes the listener.
        _ = shutdown(listener, Int32(SHUT_RDWR))
    }

    private func acceptLoop() {
        defer { close(listener) }
        while let client = LoopbackSocket.accept(listener) {
            if state.withLock({ $0.stopped }) {
                close(client)
                return
            }
            Thread.detachNewThread { [self] in relay(client) }
        }
    }

    private func relay(_ client: Int32) {
        // Bounded, so that a client that sends no head cannot hold the thread for ever.
        var limit = timeval(tv_sec: 5, tv_usec: 0)
        setsockopt(client, SOL_SOCKET, SO_RCVTIMEO, &limit, socklen_t(MemoryLayout<timeval>.size))
        guard let head = Self.readHead(client), let server = LoopbackSocket.connect(port: upstreamPort, timeout: .seconds(5)) else {
            close(client)
            return
        }
        var forever = timeval(tv_sec: 0, tv_usec: 0)
        for socket in [client, server] {
            setsockopt(socket, SOL_SOCKET, SO_RCVTIMEO, &forever, socklen_t(MemoryLayout<timeval>.size))
            setsockopt(socket, SOL_SOCKET, SO_SNDTIMEO, &forever, socklen_t(MemoryLayout<timeval>.size))
        }
        let link = RelayLink(client: client, server: server, sender: Self.sender(in: head))
        let id: Int? = state.withLock { state in
            guard !state.refuses(link.sender) else { return nil }
            defer { state.nextLink += 1 }
            state.links[state.nextLink] = link
            return state.nextLink
        }
        guard let id, LoopbackSocket.sendAll(head, to: server) else {
            link.closeBoth()
            return
        }
        link.start { [self] in _ = state.withLock { $0.links.removeValue(forKey: id) } }
    }

    /// The bytes up to the end of the request head (and whatever followed them in the same reads);
    /// `nil` when the connection ends first.
    private static func readHead(_ socket: Int32) -> [UInt8]? {
        var bytes: [UInt8] = []
        var buffer = [UInt8](repeating: 0, count: 16 * 1024)
        let end: [UInt8] = [13, 10, 13, 10]
        while bytes.count < 64 * 1024 {
            let count = recv(socket, &buffer, buffer.count, 0)
            if count < 0 && errno == EINTR { continue }
            guard count > 0 else { return nil }
            bytes += buffer[0..<count]
            if bytes.indices.contains(where: { bytes[$0...].starts(with: end) }) { return bytes }
        }
        return bytes
    }

    /// The `X-Server-From` header's value, lower-cased.
    static func sender(in head: [UInt8]) -> String? {
        let text = String(decoding: head, as: UTF8.self)
        for line in text.split(separator: "\r\n") {
            guard line.lowercased().hasPrefix("x-server-from:") else { continue }
            return line.dropFirst("x-server-from:".count).trimmingCharacters(in: .whitespaces).lowercased()
        }
        return nil
    }
}
