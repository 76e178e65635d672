import Foundation
import Synchronization

/// A loopback TCP relay in front of a server, which a test can cut and heal.
///
/// Client connections to ``address`` are forwarded byte for byte to the first upstream that
/// accepts. ``cut()`` drops every relayed connection and refuses new ones until ``heal()``: the
/// client then sees a dead network while the server itself stays up, which is how a test ends a
/// session from the server's side without the client winning it back first.
///
/// Every relayed connection is two threads of the relay's own (one per direction, blocking I/O);
/// the listener is one more. The relay stops by itself once `isFinished` says so.
public final class TCPRelay: Sendable {
    /// `127.0.0.1:PORT` (`[::1]:PORT` when listening on IPv6), for the client's connect string.
    public let address: String
    public let upstreams: [String]

    private struct State {
        var cut = false
        /// Links accepted from now on are frozen at once (``blackHole()``).
        var blackHole = false
        /// How long each chunk of a server's reply waits before it goes on to the client.
        var replyDelay = Duration.zero
        var stopped = false
        var links: [Int: RelayLink] = [:]
        var nextLink = 0
    }

    private let state = Mutex(State())
    private let listener: Int32
    private let isFinished: @Sendable () -> Bool

    /// Starts listening on a free loopback port.
    /// - Parameters:
    ///   - listenOnIPv6: listen on `[::1]` instead of 127.0.0.1 (the upstreams stay IPv4).
    ///   - isFinished: asked twice a second; once it returns `true` the relay stops.
    public init(upstreams: [String], listenOnIPv6: Bool = false, isFinished: @escaping @Sendable () -> Bool) throws {
        self.upstreams = upstreams
        self.isFinished = isFinished
        let (fd, port) = try LoopbackSocket.listen(ipv6: listenOnIPv6)
        listener = fd
        self.address = listenOnIPv6 ? "[::1]:\(port)" : "127.0.0.1:\(port)"
        Thread.detachNewThread { [self] in acceptLoop() }
    }

    /// Holds each chunk the server sends back for `delay` before passing it on (a slow server or
    /// link, as seen by the client); `.zero` ends it. Requests go through at once.
    public func delayReplies(by delay: Duration) { state.withLock { $0.replyDelay = delay } }

    /// How many connections the relay has accepted so far.
    public var connectionsMade: Int { state.withLock { $0.nextLink } }

    /// Makes every connection relayed now a black hole, both ways, without closing it (a member
    /// behind a load balancer that stopped, a NAT that lost the connection): new ones work.
    public func freezeConnections() {
        state.withLock { state in
            for link in state.links.values { link.freeze() }
        }
    }

    /// Freezes every relayed connection, and every one made from now on, without closing any:
    /// the server as the client sees it across a partition, where connects and requests hang
    /// until a time-out rather than fail.
    public func blackHole() {
        state.withLock { state in
            state.blackHole = true
            for link in state.links.values { link.freeze() }
        }
    }

    /// Drops every relayed connection and refuses new ones until ``heal()``.
    public func cut() {
        // Under the lock, so that no link is closed (and its descriptors reused) meanwhile.
        state.withLock { state in
            state.cut = true
            for link in state.links.values { link.shutDown() }
        }
    }

    /// `true` once the relay stopped (by ``stop()`` or because it was finished).
    public var isStopped: Bool { state.withLock { $0.stopped } }

    /// Relays new connections again.
    public func heal() {
        state.withLock { $0.cut = false }
    }

    /// Stops listening and drops every connection.
    public func stop() {
        state.withLock { state in
            state.stopped = true
            for link in state.links.values { link.shutDown() }
        }
    }

    // MARK: Threads of the relay

    private func acceptLoop() {
        defer { close(listener) }
        while true {
            if state.withLock({ $0.stopped }) { return }
            if isFinished() {
                stop()
                return
            }
            var ready = pollfd(fd: listener, events: Int16(POLLIN), revents: 0)
            guard poll(&ready, 1, 500) > 0 else { continue }
            guard let client = LoopbackSocket.accept(listener) else { continue }
            let refuse = state.withLock { $0.cut || $0.stopped }
            guard !refuse, let server = connectUpstream() else {
                close(client)
                continue
            }
            let link = RelayLink(client: client, server: server)
            let id: Int? = state.withLock { state in
                // A cut may have come while we connected: it covers this link too.
                guard !state.cut, !state.stopped else { return nil }
                let id = state.nextLink
                state.nextLink += 1
                state.links[id] = link
                if state.blackHole { link.freeze() }
                return id
            }
            guard let id else {
                link.shutDown()
                link.closeBoth()
                continue
            }
            link.start(replyDelay: { [self] in state.withLock { $0.replyDelay } }) { [self] in
                _ = state.withLock { $0.links.removeValue(forKey: id) }
            }
        }
    }

    private func connectUpstream() -> Int32? {
        for upstream in upstreams {
            let parts = upstream.split(separator: ":")
            guard parts.count == 2, let port = UInt16(parts[1]) else { continue }
            let fd = socket(AF_INET, LoopbackSocket.streamType, 0)
            guard fd >= 0 else { return nil }
            var address = LoopbackSocket.address(port: port)
            let host = parts[0] == "localhost" ? "127.0.0.1" : String(parts[0])
            address.sin_addr.s_addr = inet_addr(host)
            let connected = withUnsafePointer(to: &address) {
                $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { connect(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) == 0 }
            }
            if connected {
                var on: Int32 = 1
                setsockopt(fd, Int32(IPPROTO_TCP), TCP_NODELAY, &on, socklen_t(MemoryLayout<Int32>.size))
                return fd
            }
            close(fd)
        }
        return nil
    }
}
