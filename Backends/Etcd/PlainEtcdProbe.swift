import Coordination
import Foundation

/// Telling etcd served in plain HTTP after an `etcds://` endpoint cut the TLS handshake off.
///
/// etcd without TLS reads a ClientHello as a malformed HTTP request, answers it with a 400 that
/// is no TLS record and hangs up, which curl reports as a failed handshake (`SSL_ERROR_SYSCALL`):
/// "does it serve TLS on this port?" left the user to find out that it does not. Asked in plain
/// HTTP (`GET /version`), etcd names itself (`{"etcdserver":…}`), and the fix is `etcd://`.
///
/// Only the failure path asks, once per failed request, after ``ZooKeeperProbe`` found no
/// ZooKeeper there, bounded by ``timeout``, on the thread that met the failure or one of its own.
enum PlainEtcdProbe {
    /// How long the whole exchange may take: etcd answers on loopback in about a millisecond.
    static let timeout = Duration.seconds(1)

    static let request = Array("GET /version HTTP/1.0\r\nHost: etcd\r\n\r\n".utf8)

    /// Whether `reply` is etcd's answer to ``request``: an HTTP reply whose body names `etcdserver`.
    static func isEtcdVersionReply(_ reply: [UInt8]) -> Bool {
        reply.starts(with: Array("HTTP/1.".utf8)) && String(decoding: reply, as: UTF8.self).contains("\"etcdserver\"")
    }

    /// Whether etcd answers plain HTTP at `endpoint`'s host and port (a gateway base URL,
    /// `https://host:port`). Blocks up to ``timeout``: call it on a thread of your own.
    static func answers(at endpoint: String) -> Bool {
        ZooKeeperProbe.anyAddress(of: endpoint, within: timeout) { info, deadline in
            guard case .success(let socket) = ProbeSocket.connect(to: info, until: deadline), socket.sendAll(request) else { return false }
            // HTTP/1.0: the server hangs up after its reply, which ends the read.
            return isEtcdVersionReply(socket.receive(until: deadline, limit: 4096) { _ in false })
        }
    }
}
