import CoordinationLocalServers
import Foundation
import Synchronization

/// A stand-in etcd JSON gateway on loopback whose answers a test scripts per request: `answer`
/// gets the request's path and how many requests to that path came before it (0 for the first),
/// and returns the JSON body to send with a 200, or `nil` to stay silent on that connection
/// from then on (a server that took the request and never answers: hung, or frozen). Connections
/// are kept alive, as curl expects of etcd.
final class ScriptedGateway: Sendable {
    let address: String
    private let listener: Int32
    private let answer: @Sendable (_ path: String, _ earlier: Int) -> String?
    private struct State {
        var seen: [String: Int] = [:]
        var stopped = false
    }
    private let state = Mutex(State())

    init(answer: @escaping @Sendable (_ path: String, _ earlier: Int) -> String?) throws {
        let (listener, port) = try LoopbackSocket.listen()
        self.listener = listener
        self.answer = answer
        address = "127.0.0.1:\(port)"
        Thread.detachNewThread { [self] in
            while let client = LoopbackSocket.accept(listener) {
                Thread.detachNewThread { [self] in serve(client) }
            }
        }
    }

    /// How many requests to `path` have arrived so far.
    func requests(to path: String) -> Int { state.withLock { $0.seen[path] ?? 0 } }

    func stop() {
        let first = state.withLock { state in
            defer { state.stopped = true }
            return !state.stopped
        }
        // shutdown wakes the blocked accept; the descriptor is closed once, here.
        if first {
            shutdown(listener, Int32(SHUT_RDWR))
            close(listener)
        }
    }

    private func serve(_ client: Int32) {
        defer { close(client) }
        var buffer: [UInt8] = []
        while let path = Self.readRequest(client, buffer: &buffer) {
            let earlier = state.withLock { state in
                defer { state.seen[path, default: 0] += 1 }
                return state.seen[path] ?? 0
            }
            guard let body = answer(path, earlier) else {
                // Silent: read on (so the client's writes never fail) until it hangs up.
                var sink = [UInt8](repeating: 0, count: 4096)
                while recv(client, &sink, sink.count, 0) > 0 {}
                return
            }
            let reply = Array("HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: \(body.utf8.count)\r\n\r\n\(body)".utf8)
            guard reply.withUnsafeBytes({ send(client, $0.baseAddress, reply.count, Int32(MSG_NOSIGNAL)) }) == reply.count else { return }
        }
    }

    /// Reads one request (headers, then Content-Length bytes of body) and returns its path;
    /// `nil` when the client closed the connection.
    private static func readRequest(_ client: Int32, buffer: inout [UInt8]) -> String? {
        let separator: [UInt8] = Array("\r\n\r\n".utf8)
        func fill() -> Bool {
            var chunk = [UInt8](repeating: 0, count: 16 * 1024)
            let count = recv(client, &chunk, chunk.count, 0)
            guard count > 0 else { return false }
            buffer += chunk[0..<count]
            return true
        }
        var end: Int?
        while end == nil {
            end = buffer.indices.first { buffer[$0...].starts(with: separator) }
            if end == nil, !fill() { return nil }
        }
        guard let end else { return nil }
        let head = String(decoding: buffer[..<end], as: UTF8.self)
        let lines = head.split(separator: "\r\n")
        // "POST /v3/lease/grant HTTP/1.1"
        let requestLine = lines.first?.split(separator: " ") ?? []
        let path = requestLine.count >= 2 ? String(requestLine[1]) : ""
        let length = lines.compactMap { line -> Int? in
            guard line.lowercased().hasPrefix("content-length:") else { return nil }
            return Int(line.dropFirst("content-length:".count).trimmingCharacters(in: .whitespaces))
        }.first ?? 0
        let start = end + separator.count
        while buffer.count < start + length {
            guard fill() else { return nil }
        }
        buffer.removeFirst(start + length)
        return path
    }
}
