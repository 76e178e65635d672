import Foundation
import Synchronization

/// One relayed connection: the client's socket and the server's.
final class RelayLink: Sendable {
    let client: Int32
    let server: Int32
    /// Who sent the connection, if known (``PeerRelay`` reads etcd's `X-Server-From`).
    let sender: String?
    /// How many of the two directions still run; the last one closes both sockets.
    private let running = Mutex(2)
    /// What arrives is dropped (``TCPRelay/freezeConnections()``).
    private let frozen = Mutex(false)

    func freeze() { frozen.withLock { $0 = true } }

    init(client: Int32, server: Int32, sender: String? = nil) {
        self.client = client
        self.server = server
        self.sender = sender
        var on: Int32 = 1
        setsockopt(client, Int32(IPPROTO_TCP), TCP_NODELAY, &on, socklen_t(MemoryLayout<Int32>.size))
    }

    /// Relays both ways, each direction on a thread of its own; once both have ended, closes both
    /// sockets and calls `closed`.
    /// - Parameter replyDelay: the delay of what the server sends (see ``forward(from:to:delay:)``).
    func start(replyDelay: @escaping @Sendable () -> Duration = { .zero }, closed: @escaping @Sendable () -> Void) {
        let finish: @Sendable () -> Void = { [self] in
            guard finishOneDirection() else { return }
            closed()
            closeBoth()
        }
        Thread.detachNewThread { [self] in
            forward(from: client, to: server)
            finish()
        }
        Thread.detachNewThread { [self] in
            forward(from: server, to: client, delay: replyDelay)
            finish()
        }
    }

    /// Copies bytes until either side ends, then ends both (a half-open link is of no use here).
    /// - Parameter delay: how long bytes wait before they are passed on. What arrives while
    ///   they wait goes with them (the same burst, one delay): a reply sent in several segments
    ///   is late by the delay, not by the delay for each segment.
    func forward(from source: Int32, to destination: Int32, delay: () -> Duration = { .zero }) {
        var buffer = [UInt8](repeating: 0, count: 64 * 1024)
        var flags: Int32 = 0
        loop: while true {
            let count = buffer.withUnsafeMutableBytes { recv(source, $0.baseAddress, $0.count, flags) }
            if count < 0 && errno == EINTR { continue }
            if count < 0 && flags != 0 && (errno == EAGAIN || errno == EWOULDBLOCK) {
                flags = 0  // the burst is passed on: wait for the next one
                continue
            }
            guard count > 0 else { break }
            if frozen.withLock({ $0 }) { continue }
            let wait = delay()
            if wait > .zero && flags == 0 {
                Thread.sleep(forTimeInterval: Double(wait.components.seconds) + Double(wait.components.attoseconds) / 1e18)
                flags = Int32(MSG_DONTWAIT)
            }
            guard LoopbackSocket.sendAll(buffer[0..<count], to: destination) else { break loop }
        }
        shutDown()
    }

    /// Wakes both directions' blocking reads; the sockets stay open until both have returned.
    func shutDown() {
        _ = shutdown(client, Int32(SHUT_RDWR))
        _ = shutdown(server, Int32(SHUT_RDWR))
    }

    /// Returns `true` for the second direction to finish: its caller then closes both sockets.
    private func finishOneDirection() -> Bool {
        running.withLock { count in
            count -= 1
            return count == 0
        }
    }

    func closeBoth() {
        close(client)
        close(server)
    }
}

