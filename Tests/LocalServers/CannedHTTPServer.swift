import Foundation
import Synchronization

/// A server on a free loopback port that answers every connection with the same HTTP reply,
/// whatever was sent, and hangs up: the wrong server a store may be pointed at (a web server, a
/// proxy's error page). It answers after the first bytes arrive, as a web server answers a
/// request it cannot parse, so a ZooKeeper handshake gets the reply too.
public final class CannedHTTPServer: Sendable {
    public let port: Int
    public var address: String { "127.0.0.1:\(port)" }
    /// How many connections were answered.
    public var answered: Int { count.load(ordering: .relaxed) }

    private let listener: Int32
    private let count = Atomic<Int>(0)
    private let stopped = Atomic<Bool>(false)

    /// `HTTP/1.1 404 Not Found` with a multi-line HTML page.
    public static let notFound = reply(
        status: "404 Not Found",
        body: "<html>\r\n<head><title>404 Not Found</title></head>\r\n<body>\n<center><h1>404 Not Found</h1></center>\n<hr><center>nginx</center>\n</body>\n</html>\n")

    public static func reply(status: String, body: String) -> [UInt8] {
        Array(
            ("HTTP/1.1 \(status)\r\nContent-Type: text/html\r\nContent-Length: \(body.utf8.count)\r\nConnection: close\r\n\r\n" + body).utf8)
    }

    public init(reply: [UInt8] = CannedHTTPServer.notFound) throws {
        (listener, port) = try LoopbackSocket.listen()
        let thread = Thread { [self] in serve(reply) }
        thread.name = "canned-http-\(port)"
        thread.start()
    }

    /// Stops accepting; a connection being answered finishes on its own.
    public func stop() {
        guard !stopped.exchange(true, ordering: .relaxed) else { return }
        // Wakes the accept below, which then fails and ends the thread; it closes the socket.
        shutdown(listener, Int32(SHUT_RDWR))
    }

    private func serve(_ reply: [UInt8]) {
        defer { close(listener) }
        while !stopped.load(ordering: .relaxed) {
            guard let client = LoopbackSocket.accept(listener) else {
                if errno == EINTR || errno == ECONNABORTED { continue }
                return
            }
            var limit = timeval(tv_sec: 0, tv_usec: 500_000)
            setsockopt(client, SOL_SOCKET, SO_RCVTIMEO, &limit, socklen_t(MemoryLayout<timeval>.size))
            var buffer = [UInt8](repeating: 0, count: 4096)
            _ = recv(client, &buffer, buffer.count, 0)
            _ = reply.withUnsafeBytes { send(client, $0.baseAddress, $0.count, Int32(MSG_NOSIGNAL)) }
            count.add(1, ordering: .relaxed)
            // Half-close, then read what else came until the client hangs up: closing with unread
            // bytes would reset the connection, and the client might lose the reply.
            shutdown(client, Int32(SHUT_WR))
            while recv(client, &buffer, buffer.count, 0) > 0 {}
            close(client)
        }
    }
}
