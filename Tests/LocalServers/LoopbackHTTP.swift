import Coordination
import Foundation

/// One plain HTTP/1.0 request to a server on 127.0.0.1, on a thread of its own (blocking socket
/// I/O never runs on the cooperative pool). Enough for etcd's JSON gateway: status, health,
/// compaction, without the store's client.
public enum LoopbackHTTP {
    public struct Reply: Sendable {
        public var status: Int
        public var body: [UInt8]

        /// The body as a JSON object, if it is one.
        public var object: [String: Any]? {
            (try? JSONSerialization.jsonObject(with: Data(body))) as? [String: Any]
        }
    }

    /// POSTs `body` (JSON) to `path`; `nil` when the server does not answer within `timeout`.
    public static func post(port: Int, path: String, body: String, timeout: Duration = .seconds(2)) async -> Reply? {
        await OwnThread.run { exchange(port: port, path: path, body: body, timeout: timeout) }
    }

    /// POSTs and returns the reply only when it is a 200.
    public static func postJSON(port: Int, path: String, body: String, timeout: Duration = .seconds(2)) async -> Reply? {
        guard let reply = await post(port: port, path: path, body: body, timeout: timeout), reply.status == 200 else { return nil }
        return reply
    }

    static func exchange(port: Int, path: String, body: String, timeout: Duration) -> Reply? {
        let request = Array(
            "POST \(path) HTTP/1.0\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\nContent-Length: \(body.utf8.count)\r\n\r\n\(body)".utf8)
        guard let reply = LoopbackSocket.exchange(port: port, request: request, timeout: timeout) else { return nil }
        // "HTTP/1.x 200 OK\r\n…\r\n\r\nbody"
        let separator: [UInt8] = [13, 10, 13, 10]
        guard let end = reply.indices.first(where: { reply[$0...].starts(with: separator) }) else { return nil }
        let statusLine = String(decoding: reply[..<end], as: UTF8.self).split(separator: "\r\n").first ?? ""
        let fields = statusLine.split(separator: " ")
        guard fields.count >= 2, let status = Int(fields[1]) else { return nil }
        return Reply(status: status, body: Array(reply[(end + 4)...]))
    }
}
