import Foundation

/// Blocking TCP sockets on 127.0.0.1, for the small clients and servers around test servers (the
/// four-letter words, the gateway calls, the relay, the chaos sink). Callers keep them off the
/// cooperative pool.
public enum LoopbackSocket {
    /// `SOCK_STREAM`, closed on exec: processes we spawn must not inherit our sockets (a cut
    /// relay link or a stopped listener would live on in them).
    static let streamType = Int32(SOCK_STREAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue)

    /// Accepts a connection on `listener` (closed on exec too); `nil` on failure.
    public static func accept(_ listener: Int32) -> Int32? {
        let client = Glibc.accept(listener, nil, nil)
        guard client >= 0 else { return nil }
        // accept4 is not in Swift's Glibc module: a spawn racing with this may inherit one connection.
        _ = fcntl(client, F_SETFD, FD_CLOEXEC)
        return client
    }

    /// A listening socket on a free loopback port (of `[::1]` when `ipv6`), and that port.
    public static func listen(backlog: Int32 = 16, ipv6: Bool = false) throws -> (descriptor: Int32, port: Int) {
        guard ipv6 else { return try listen(family: AF_INET, Self.address(port: 0), backlog: backlog, \.sin_port, "a loopback port") }
        var address = sockaddr_in6()
        address.sin6_family = sa_family_t(AF_INET6)
        address.sin6_addr = in6addr_loopback
        return try listen(family: AF_INET6, address, backlog: backlog, \.sin6_port, "an IPv6 loopback port")
    }

    /// Binds a socket of `family` to `address` (port 0: the kernel picks one), listens, and reads
    /// the port given back through `port`.
    private static func listen<Address>(
        family: Int32, _ address: Address, backlog: Int32, _ port: KeyPath<Address, in_port_t>, _ what: String
    ) throws -> (descriptor: Int32, port: Int) {
        let fd = socket(family, streamType, 0)
        guard fd >= 0 else { throw LoopbackSocketError("cannot open a socket for \(what): errno \(errno)") }
        var address = address
        var length = socklen_t(MemoryLayout<Address>.size)
        let listening = withUnsafeMutablePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                bind(fd, $0, length) == 0 && Glibc.listen(fd, backlog) == 0 && getsockname(fd, $0, &length) == 0
            }
        }
        guard listening else {
            close(fd)
            throw LoopbackSocketError("cannot listen on \(what): errno \(errno)")
        }
        return (fd, Int(UInt16(bigEndian: address[keyPath: port])))
    }

    /// Connects to 127.0.0.1:`port`, reads and writes bounded by `timeout`; `nil` when refused.
    public static func connect(port: Int, timeout: Duration) -> Int32? {
        let fd = socket(AF_INET, streamType, 0)
        guard fd >= 0 else { return nil }
        var limit = timeval(tv_sec: Int(timeout.components.seconds), tv_usec: Int(timeout.components.attoseconds / 1_000_000_000_000))
        setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &limit, socklen_t(MemoryLayout<timeval>.size))
        setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &limit, socklen_t(MemoryLayout<timeval>.size))
        var address = Self.address(port: UInt16(port))
        let connected = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { Glibc.connect(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) == 0 }
        }
        guard connected else {
            close(fd)
            return nil
        }
        return fd
    }

    /// Sends every byte, through short writes and interruptions; `false` once the peer is gone.
    static func sendAll(_ bytes: some Collection<UInt8>, to socket: Int32) -> Bool {
        let bytes = Array(bytes)
        var sent = 0
        while sent < bytes.count {
            // MSG_NOSIGNAL: a peer that went away must end the link, not the test process (SIGPIPE).
            let written = bytes.withUnsafeBytes { send(socket, $0.baseAddress! + sent, bytes.count - sent, Int32(MSG_NOSIGNAL)) }
            if written < 0 && errno == EINTR { continue }
            guard written > 0 else { return false }
            sent += written
        }
        return true
    }

    /// Sends `request` to 127.0.0.1:`port` and returns everything it answers until it closes
    /// (or `timeout` passes without a byte); `nil` when nothing could be sent.
    public static func exchange(port: Int, request: [UInt8], timeout: Duration) -> [UInt8]? {
        guard let fd = connect(port: port, timeout: timeout) else { return nil }
        defer { close(fd) }
        guard sendAll(request, to: fd) else { return nil }
        var reply: [UInt8] = []
        var buffer = [UInt8](repeating: 0, count: 16 * 1024)
        while true {
            let count = recv(fd, &buffer, buffer.count, 0)
            if count < 0 && errno == EINTR { continue }
            if count <= 0 { break }
            reply += buffer[0..<count]
        }
        return reply
    }

    /// Whether a server could listen on 127.0.0.1:`port` now (as servers do, with `SO_REUSEADDR`,
    /// so that a port whose old connections linger in TIME_WAIT counts as free).
    public static func isFree(port: Int) -> Bool {
        let fd = socket(AF_INET, streamType, 0)
        guard fd >= 0 else { return false }
        defer { close(fd) }
        var reuse: Int32 = 1
        setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &reuse, socklen_t(MemoryLayout<Int32>.size))
        var address = Self.address(port: UInt16(port))
        return withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) == 0 }
        }
    }

    static func address(port: UInt16) -> sockaddr_in {
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_port = port.bigEndian
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        return address
    }
}

public struct LoopbackSocketError: Error, CustomStringConvertible {
    public let description: String
    init(_ description: String) { self.description = description }
}
