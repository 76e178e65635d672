import Coordination
import CoordinationLocalServers
@testable import CoordinationEtcd
import Foundation
import Logging
import Synchronization
import Testing

/// A write goes out at most once. libcurl resends a POST on a fresh connection when the
/// kept-alive one it reused dies before any reply; a member SIGKILLed after applying a write does
/// just that. Before the fix, a chaos run on etcd saw a job submission fail with `nodeExists`
/// although the submission itself had created the job: curl had sent the write again.
///
/// No etcd here: a stand-in gateway on loopback drops the connection at the chosen request.
@Suite("etcd writes are sent once")
struct WriteSentOnceTests {
    static let answer = #"{"header":{"revision":"7"}}"#

    @Test("a write whose connection dies is not resent, even on the next endpoint; it ends in connectionLoss")
    func writeNotResentElsewhere() async throws {
        // The first member drops the write's connection and then refuses connections (it died);
        // the second would accept a resend.
        let dying = try StandInGateway(dropping: ["put-once"], refusesAfterDrop: true)
        let other = try StandInGateway(dropping: [])
        defer { dying.stop(); other.stop() }
        let gateway = Self.gateway([dying.address, other.address])
        let (warm, write) = await OwnThread.run {
            let connection = CurlConnection(tls: nil)
            let warm = Result { () throws(CoordinationError) in
                try gateway.call("/v3/kv/range", ["key": .string("warm")], on: connection, kind: .read)
            }
            let write = Result { () throws(CoordinationError) in
                try gateway.call("/v3/kv/put", ["key": .string("put-once")], on: connection, kind: .write)
            }
            return (warm, write)
        }
        #expect(throws: Never.self) { try warm.get() }  // the connection is now kept alive
        #expect { try write.get() } throws: { ($0 as? CoordinationError)?.code == .connectionLoss }
        #expect(dying.bodies.filter { $0.contains("put-once") }.count == 1)
        #expect(other.bodies.isEmpty, "the write was sent again to the next endpoint: \(other.bodies)")
    }

    @Test("through the store's event loop: a dropped write is not resent; a dropped read is, by curl, and succeeds")
    func eventLoopSendsWritesOnce() async throws {
        let server = try StandInGateway(dropping: ["put-once", "read-again"])
        defer { server.stop() }
        let gateway = Self.gateway([server.address])
        let loop = CurlMultiLoop(maxTransfers: 1, name: "write-once-test", tls: nil)
        defer { loop.close() }

        _ = try await gateway.call("/v3/kv/range", ["key": .string("warm")], via: loop, kind: .read)
        await #expect { try await gateway.call("/v3/kv/put", ["key": .string("put-once")], via: loop, kind: .write) } throws: {
            ($0 as? CoordinationError)?.code == .connectionLoss
        }
        #expect(server.bodies.filter { $0.contains("put-once") }.count == 1, "\(server.bodies)")

        // A read may be sent twice: curl's own retry on a fresh connection is what it should be.
        _ = try await gateway.call("/v3/kv/range", ["key": .string("warm")], via: loop, kind: .read)
        let reply = try await gateway.call("/v3/kv/range", ["key": .string("read-again")], via: loop, kind: .read)
        #expect(reply["header"]?["revision"]?.int64Value == 7)
        #expect(server.bodies.filter { $0.contains("read-again") }.count == 2, "\(server.bodies)")
    }

    static func gateway(_ hosts: [String]) -> Gateway {
        Gateway(
            hosts: hosts, secure: false, tls: nil, user: nil, password: nil, requestTimeout: .seconds(5),
            logger: Logger(label: "test.etcd.sent-once"))
    }
}

/// An HTTP/1.1 server on loopback that answers every POST with a fixed gateway reply on a
/// kept-alive connection, except the first request whose body contains one of `dropping`: it
/// reads that one whole, then closes the connection without a reply (and, with
/// `refusesAfterDrop`, stops listening), as a member killed after applying a write would.
final class StandInGateway: Sendable {
    let address: String
    private let listener: Int32
    private let refusesAfterDrop: Bool
    private struct State {
        var bodies: [String] = []
        var dropping: Set<String>
        var stopped = false
    }
    private let state: Mutex<State>

    init(dropping: Set<String>, refusesAfterDrop: Bool = false) throws {
        let (listener, port) = try LoopbackSocket.listen()
        self.listener = listener
        self.refusesAfterDrop = refusesAfterDrop
        address = "127.0.0.1:\(port)"
        state = Mutex(State(dropping: dropping))
        Thread.detachNewThread { [self] in
            while let client = LoopbackSocket.accept(listener) {
                Thread.detachNewThread { [self] in serve(client) }
            }
        }
    }

    /// Every request body read, in order.
    var bodies: [String] { state.withLock { $0.bodies } }

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
        while let body = Self.readRequest(client, buffer: &buffer) {
            let drop = state.withLock { state in
                state.bodies.append(body)
                guard let marker = state.dropping.first(where: { body.contains($0) }) else { return false }
                state.dropping.remove(marker)
                return true
            }
            if drop {
                if refusesAfterDrop { stop() }
                return
            }
            let reply = Array(
                "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: \(WriteSentOnceTests.answer.utf8.count)\r\n\r\n\(WriteSentOnceTests.answer)"
                    .utf8)
            guard reply.withUnsafeBytes({ send(client, $0.baseAddress, reply.count, Int32(MSG_NOSIGNAL)) }) == reply.count else { return }
        }
    }

    /// Reads one request (headers, then Content-Length bytes of body) and returns its body;
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
        while true {
            end = buffer.indices.first { buffer[$0...].starts(with: separator) }
            if end != nil { break }
            guard fill() else { return nil }
        }
        guard let end else { return nil }
        let head = String(decoding: buffer[..<end], as: UTF8.self).lowercased()
        let length = head.split(separator: "\r\n").compactMap { line -> Int? in
            guard line.hasPrefix("content-length:") else { return nil }
            return Int(line.dropFirst("content-length:".count).trimmingCharacters(in: .whitespaces))
        }.first ?? 0
        let start = end + separator.count
        while buffer.count < start + length {
            guard fill() else { return nil }
        }
        let body = String(decoding: buffer[start..<(start + length)], as: UTF8.self)
        buffer.removeFirst(start + length)
        return body
    }
}
