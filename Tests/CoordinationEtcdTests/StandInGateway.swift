import CoordinationLocalServers
import Foundation
import Synchronization

/// A stand-in etcd JSON gateway on loopback, for what a real etcd cannot be made to do on cue: an
/// HTTP/1.1 server on kept-alive connections (as curl expects of etcd) whose test decides, request
/// by request, what it does.
final class StandInGateway: Sendable {
    /// One request as it arrived.
    struct Request: Sendable {
        let path: String
        let body: String
        /// How many requests to the same path came before it (0 for the first).
        let earlier: Int
    }

    enum Response: Sendable {
        /// A 200 with this JSON body.
        case answer(String)
        /// An error status with this JSON body, as the gateway reports etcd's refusals.
        case refusal(status: Int, String)
        /// The request read whole, then the connection closed without a reply (and, when
        /// `thenStopListening`, no more connections taken): a member killed after applying it.
        case hangUp(thenStopListening: Bool)
        /// No reply ever on this connection; what the client sends is read on, so its writes never
        /// fail, until it hangs up: a server that took the request and is hung or frozen.
        case silent
    }

    let address: String
    private let listener: Int32
    private let respond: @Sendable (Request) -> Response
    private struct State {
        var bodies: [String] = []
        var seen: [String: Int] = [:]
        var stopped = false
    }
    private let state = Mutex(State())

    init(respond: @escaping @Sendable (Request) -> Response) throws {
        let (listener, port) = try LoopbackSocket.listen()
        self.listener = listener
        self.respond = respond
        address = "127.0.0.1:\(port)"
        Thread.detachNewThread { [self] in
            while let client = LoopbackSocket.accept(listener) {
                Thread.detachNewThread { [self] in serve(client) }
            }
        }
    }

    /// Every request body read, in order.
    var bodies: [String] { state.withLock { $0.bodies } }

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
        while let (path, body) = Self.readRequest(client, buffer: &buffer) {
            let earlier = state.withLock { state in
                state.bodies.append(body)
                defer { state.seen[path, default: 0] += 1 }
                return state.seen[path] ?? 0
            }
            switch respond(Request(path: path, body: body, earlier: earlier)) {
            case .answer(let json):
                guard Self.reply(status: "200 OK", json, to: client) else { return }
            case .refusal(let status, let json):
                guard Self.reply(status: "\(status) Refused", json, to: client) else { return }
            case .hangUp(let thenStopListening):
                if thenStopListening { stop() }
                return
            case .silent:
                var sink = [UInt8](repeating: 0, count: 4096)
                while recv(client, &sink, sink.count, 0) > 0 {}
                return
            }
        }
    }

    /// Sends one JSON reply; `false` when the client is gone.
    private static func reply(status: String, _ json: String, to client: Int32) -> Bool {
        let bytes = Array("HTTP/1.1 \(status)\r\nContent-Type: application/json\r\nContent-Length: \(json.utf8.count)\r\n\r\n\(json)".utf8)
        return bytes.withUnsafeBytes({ send(client, $0.baseAddress, bytes.count, Int32(MSG_NOSIGNAL)) }) == bytes.count
    }

    /// Reads one request (headers, then Content-Length bytes of body) and returns its path and
    /// body; `nil` when the client closed the connection.
    private static func readRequest(_ client: Int32, buffer: inout [UInt8]) -> (path: String, body: String)? {
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
        let lines = String(decoding: buffer[..<end], as: UTF8.self).split(separator: "\r\n")
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
        let body = String(decoding: buffer[start..<(start + length)], as: UTF8.self)
        buffer.removeFirst(start + length)
        return (path, body)
    }
}

extension StandInGateway {
    /// A server whose answers a test scripts per path: `answer` gets the path and how many
    /// requests to it came before, and returns the JSON to send, or `nil` to go silent on that
    /// connection from then on.
    static func scripted(_ answer: @escaping @Sendable (_ path: String, _ earlier: Int) -> String?) throws -> StandInGateway {
        try StandInGateway { request in answer(request.path, request.earlier).map(Response.answer) ?? .silent }
    }

    /// A server that answers every request with `reply`, except the first whose body contains one
    /// of `dropping`: that one it hangs up on (and, with `refusesAfterDrop`, then stops listening).
    static func dropping(_ markers: Set<String>, reply: String, refusesAfterDrop: Bool = false) throws -> StandInGateway {
        let left = Mutex(markers)
        return try StandInGateway { request in
            let drop = left.withLock { left in
                guard let marker = left.first(where: { request.body.contains($0) }) else { return false }
                left.remove(marker)
                return true
            }
            return drop ? .hangUp(thenStopListening: refusesAfterDrop) : .answer(reply)
        }
    }
}
