import Coordination
@testable import CoordinationEtcd
import Logging
import Testing

/// Watch messages are read as strictly as the kv replies (``GatewayReplyTypeTests``): a field
/// left out or `null` is its zero; one of another type makes the message malformed, and the
/// watch resumes from the last revision it delivered, as after an unreadable line.
@Suite struct WatchMessageTests {
    static func parsed(_ text: String) throws -> JSONValue {
        try #require(JSONValue.parse(Array(text.utf8)), "test JSON: \(text)")
    }

    static let put6 = #"{"kv":{"key":"L3c=","create_revision":"6","mod_revision":"6","version":"1","value":"Bg=="}}"#
    static let delete6 = #"{"type":"DELETE","kv":{"key":"L3c=","mod_revision":"6"}}"#

    @Test func omittedAndNullFieldsAreTheirZero() throws {
        guard case .result(let bare) = try WatchMessage(try Self.parsed(#"{"result":{}}"#)) else {
            Issue.record("a result")
            return
        }
        #expect(!bare.created && !bare.canceled && !bare.fragment && bare.compactRevision == 0 && bare.events.isEmpty)
        #expect(bare.headerRevision == nil && bare.cancelReason == nil)
        let nulls = try WatchMessage(try Self.parsed(
            #"{"result":{"header":null,"created":null,"canceled":null,"fragment":null,"compact_revision":null,"cancel_reason":null,"events":null}}"#))
        #expect(nulls == .result(bare))
        guard case .result(let full) = try WatchMessage(try Self.parsed(
            #"{"result":{"header":{"revision":"9"},"created":true,"events":[\#(Self.put6),\#(Self.delete6),{"type":"PUT","kv":{"key":"L3c="}}]}}"#))
        else {
            Issue.record("a result")
            return
        }
        #expect(full.created && full.headerRevision == 9)
        #expect(full.events.map(\.isDelete) == [false, true, false])
        #expect(full.events.first?.kv.value == [6])
        #expect(try WatchMessage(try Self.parsed(#"{"header":{}}"#)) == .other)
    }

    @Test func refusalsAreReadInBothForms() throws {
        #expect(
            try WatchMessage(try Self.parsed(#"{"error":{"grpc_code":16,"http_code":401,"message":"etcdserver: invalid auth token"}}"#))
                == .refusal(WatchRefusal(grpcCode: 16, message: "etcdserver: invalid auth token")))
        #expect(
            try WatchMessage(try Self.parsed(#"{"error":"etcdserver: no leader","code":"14","message":"etcdserver: no leader"}"#))
                == .refusal(WatchRefusal(grpcCode: 14, message: "etcdserver: no leader")))
        #expect(try WatchMessage(try Self.parsed(#"{"error":{"message":"x"}}"#)) == .refusal(nil))
    }

    @Test(arguments: [
        #"{"result":[]}"#,
        #"{"result":{"created":"true"}}"#,
        #"{"result":{"canceled":"true","compact_revision":"6"}}"#,
        #"{"result":{"canceled":1}}"#,
        #"{"result":{"fragment":"false"}}"#,
        #"{"result":{"compact_revision":true}}"#,
        #"{"result":{"cancel_reason":{}}}"#,
        #"{"result":{"header":"9"}}"#,
        #"{"result":{"header":{"revision":true}}}"#,
        #"{"result":{"events":{}}}"#,
        #"{"result":{"events":[{"type":true,"kv":{"key":"L3c="}}]}}"#,
        #"{"result":{"events":[{"type":"REMOVE","kv":{"key":"L3c="}}]}}"#,
        #"{"result":{"events":[{"type":"PUT"}]}}"#,
        #"{"result":{"events":[{"kv":{"key":"L3c=","mod_revision":"six"}}]}}"#,
        #"{"result":{"events":["x"]}}"#,
        #"{"error":{"grpc_code":"sixteen"}}"#,
        #"{"error":{"grpc_code":16,"message":16}}"#,
        #"{"error":"x","code":true}"#,
        #"{"error":16}"#,
    ])
    func aFieldOfTheWrongTypeIsMalformed(message: String) throws {
        let json = try Self.parsed(message)
        let error = #expect(throws: CoordinationError.self) { _ = try WatchMessage(json) }
        #expect(error?.code == .unavailable, "\(String(describing: error))")
    }

    /// The first stream carries, between two good messages, one for revision 6 with a field of
    /// the wrong type; the second, from the same revision on, carries it well formed. Read
    /// loosely, `events` of another type were none (revision 6 was lost once revision 7 came), a
    /// `type` of another type was a put (a deletion reported as a write of an empty value), and a
    /// `result` of another type was skipped.
    @Test(arguments: [
        (#"{"result":{"header":{"revision":"6"},"events":\#(WatchMessageTests.put6)}}"#, false),
        (#"{"result":{"header":{"revision":"6"},"events":[{"type":true,"kv":{"key":"L3c=","mod_revision":"6"}}]}}"#, true),
        (#"{"result":[{"header":{"revision":"6"},"events":[\#(WatchMessageTests.put6)]}]}"#, false),
    ])
    func aMalformedMessageResumesFromTheLastRevisionDelivered(malformed: String, isDelete: Bool) async throws {
        let created = #"{"result":{"header":{"revision":"5"},"created":true}}"#
        let good6 = #"{"result":{"header":{"revision":"6"},"events":[\#(isDelete ? Self.delete6 : Self.put6)]}}"#
        let put7 = #"{"result":{"header":{"revision":"7"},"events":[{"kv":{"key":"L3c=","create_revision":"7","mod_revision":"7","version":"1","value":"Bw=="}}]}}"#
        let server = try StandInGateway.scripted { path, earlier in
            switch path {
            case "/v3/lease/grant": #"{"ID":"7","TTL":"10"}"#
            case "/v3/lease/keepalive": #"{"result":{"ID":"7","TTL":"10"}}"#
            case "/v3/lease/revoke": #"{"header":{"revision":"7"}}"#
            case "/v3/kv/txn": #"{"header":{"revision":"5"},"responses":[{"response_range":{}},{"response_range":{}}]}"#
            case "/v3/watch":
                switch earlier {
                case 0: [created, malformed, put7].joined(separator: "\n") + "\n"
                case 1: [created, good6, put7].joined(separator: "\n") + "\n"
                default: nil
                }
            default: nil
            }
        }
        defer { server.stop() }
        let store = try await EtcdStore(endpoints: [server.address], logger: Logger(label: "test.etcd.watch-message"))
        var events = store.watch(try Key("/w")).makeAsyncIterator()
        guard case .snapshot = try await next(&events, "the snapshot") else {
            Issue.record("the first event must be a snapshot")
            return
        }
        let first = try await next(&events, "revision 6")
        switch first {
        case .delete(let key) where isDelete: #expect(key == (try Key("/w")))
        case .put(let record) where !isDelete: #expect(record.modRevision == 6 && record.value == [6])
        default: Issue.record("expected revision 6's \(isDelete ? "deletion" : "write"), got \(first)")
        }
        let second = try await next(&events, "revision 7")
        guard case .put(let record) = second else {
            Issue.record("expected revision 7's write, got \(second)")
            return
        }
        #expect(record.modRevision == 7)
        let watches = server.bodies.filter { $0.contains("create_request") }
        #expect(watches.count >= 2 && watches[1].contains(#""start_revision":"6""#), "\(watches)")
        await store.close()
    }
}
