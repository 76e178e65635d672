import Coordination
@testable import CoordinationEtcd
import Foundation
import Logging
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
        let dying = try StandInGateway.dropping(["put-once"], reply: Self.answer, refusesAfterDrop: true)
        let other = try StandInGateway.dropping([], reply: Self.answer)
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
        let server = try StandInGateway.dropping(["put-once", "read-again"], reply: Self.answer)
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
