@testable import CoordinationEtcd
import Coordination
import Logging
import Synchronization
import Testing

/// A gateway reply whose fields have the wrong type (a proxy, a gateway of another version, a
/// garbled body that still parses) is a malformed reply, never read as the zero the gateway
/// means by an omitted field: a version read as 0, a count as 0 or `succeeded` as false is a
/// wrong answer given with confidence.
@Suite struct GatewayReplyTypeTests {
    static func parsed(_ text: String) throws -> JSONValue {
        try #require(JSONValue.parse(Array(text.utf8)), "test JSON: \(text)")
    }

    /// A key-value as the gateway writes it, then with one field replaced by `replacement`.
    static let keyValue = #"{"key":"L2EvYg==","create_revision":"7","mod_revision":"9","version":"3","value":"dg==","lease":"5"}"#
    static let keyValueFields = ["create_revision", "mod_revision", "version", "lease", "value"]
    /// Not `null`: proto3's JSON mapping reads it as the field's default (`omittedFieldsAreZero`).
    static let wrongTypes = [#"true"#, #"{}"#, #"[]"#, #""x7""#, #"1.5"#, #""""#]

    @Test func aKeyValueWithAFieldOfTheWrongTypeIsMalformed() throws {
        let original = try KeyValue(json: try Self.parsed(Self.keyValue))
        #expect(original.version == 3 && original.lease == 5 && original.value == Array("v".utf8))
        for field in Self.keyValueFields {
            // The empty string is the empty value's base64, and a fine value.
            for replacement in Self.wrongTypes where !(field == "value" && replacement == #""""#) {
                let text = Self.keyValue.replacingFirst(#""\#(field)":"#, upTo: ",", with: replacement)
                let json = try Self.parsed(text)
                let error = #expect(throws: CoordinationError.self, "\(text)") { _ = try KeyValue(json: json) }
                #expect(error?.code == .unavailable, "\(text): \(String(describing: error))")
            }
        }
    }

    /// Fields the gateway omits at zero still read as zero.
    @Test func omittedFieldsAreZero() throws {
        let kv = try KeyValue(json: try Self.parsed(#"{"key":"L2E="}"#))
        #expect(kv.value == [] && kv.version == 0 && kv.createRevision == 0 && kv.modRevision == 0 && kv.lease == 0)
        let reply = try TxnReply(try Self.parsed(#"{"header":{"revision":"3"},"responses":[{"response_range":{"header":{}}},{"response_delete_range":{}}]}"#))
        #expect(!reply.succeeded)
        #expect(try reply.range(0).isEmpty)
        #expect(try reply.count(0) == 0)
        #expect(try reply.deleted(1) == 0)
        // proto3's JSON mapping reads null as the field's default.
        let nulls = try KeyValue(json: try Self.parsed(#"{"key":"L2E=","value":null,"version":null,"lease":null,"create_revision":null}"#))
        #expect(nulls.value == [] && nulls.version == 0 && nulls.lease == 0 && nulls.createRevision == 0)
        let nullReply = try TxnReply(try Self.parsed(#"{"header":{"revision":"3"},"succeeded":null,"responses":[{"response_range":{"kvs":null,"count":null}}]}"#))
        #expect(!nullReply.succeeded)
        #expect(try nullReply.range(0).isEmpty && nullReply.count(0) == 0)
    }

    @Test func aTxnReplyWithAFieldOfTheWrongTypeIsMalformed() throws {
        let bodies = [
            // Read as false, an applied write would be tried again.
            #"{"header":{"revision":"3"},"succeeded":"true","responses":[]}"#,
            #"{"header":{"revision":"3"},"succeeded":1,"responses":[]}"#,
            #"{"header":{"revision":"3"},"succeeded":true,"responses":{"response_put":{}}}"#,
        ]
        for body in bodies {
            let json = try Self.parsed(body)
            let error = #expect(throws: CoordinationError.self, "\(body)") { _ = try TxnReply(json, from: .write) }
            #expect(error?.code == .connectionLoss, "a write's unreadable reply leaves its outcome unknown: \(String(describing: error))")
        }
        // A range whose kvs or count is not of its type is not an empty range.
        let reply = try TxnReply(try Self.parsed(
            #"{"header":{"revision":"3"},"succeeded":true,"responses":[{"response_range":{"kvs":{"key":"L2E="},"count":"one"}},{"response_delete_range":{"deleted":true}}]}"#))
        #expect(throws: CoordinationError.self) { _ = try reply.range(0) }
        #expect(throws: CoordinationError.self) { _ = try reply.count(0) }
        #expect(throws: CoordinationError.self) { _ = try reply.deleted(1) }
    }

    /// The counts of a request's own reply (an `exists`, the bench's libcurl loop) are read as
    /// strictly as a txn's: a count of another type is malformed, never "absent".
    @Test func aCountOfTheWrongTypeIsMalformed() throws {
        for replacement in Self.wrongTypes {
            let range = try Self.parsed(#"{"header":{"revision":"3"},"count":\#(replacement)}"#)
            let error = #expect(throws: CoordinationError.self, "\(replacement)") { _ = try range.rangeCount(from: .read) }
            #expect(error?.code == .unavailable, "\(replacement): \(String(describing: error))")
            let deletion = try Self.parsed(#"{"header":{"revision":"3"},"deleted":\#(replacement)}"#)
            let unknown = #expect(throws: CoordinationError.self, "\(replacement)") { _ = try deletion.deletedCount(from: .write) }
            #expect(unknown?.code == .connectionLoss, "a write's unreadable reply leaves its outcome unknown: \(String(describing: unknown))")
        }
        #expect(try Self.parsed(#"{"header":{"revision":"3"}}"#).rangeCount(from: .read) == 0)
        #expect(try Self.parsed(#"{"count":null}"#).rangeCount(from: .read) == 0)
        #expect(try Self.parsed(#"{"count":"2"}"#).rangeCount(from: .read) == 2)
        #expect(try Self.parsed(#"{"deleted":"1"}"#).deletedCount(from: .write) == 1)
    }

    /// `get` reads its range reply as strictly as a txn's: a `kvs` that is not an array of
    /// key-values is a malformed reply, never "no record" (a key that exists read as missing).
    @Test func aGetWhoseKvsHasTheWrongTypeIsMalformed() async throws {
        let kvsReplies = [#"{"key":"L2E="}"#, #""L2E=""#, #"true"#, #"["x"]"#]
        let served = Mutex(0)
        let server = try StandInGateway { request in
            switch request.path {
            case "/v3/lease/grant": .answer(#"{"ID":"7","TTL":"10"}"#)
            case "/v3/lease/keepalive": .answer(#"{"result":{"ID":"7","TTL":"10"}}"#)
            case "/v3/lease/revoke": .answer(#"{"header":{"revision":"5"}}"#)
            case "/v3/kv/range":
                .answer(#"{"header":{"revision":"5"},"kvs":\#(kvsReplies[served.withLock { count in count += 1; return (count - 1) % kvsReplies.count }]),"count":"1"}"#)
            default: .silent
            }
        }
        defer { server.stop() }
        let store = try await EtcdStore(endpoints: [server.address], logger: Logger(label: "test.etcd.replies"))
        for kvs in kvsReplies {
            let error = await #expect(throws: CoordinationError.self, "kvs \(kvs)") { _ = try await store.get(try Key("/a")) }
            #expect(error?.code == .unavailable, "kvs \(kvs): \(String(describing: error))")
        }
        await store.close()
        #expect(try Self.parsed(#"{"header":{"revision":"3"}}"#).rangeKeyValues(from: .read).isEmpty)
        #expect(try Self.parsed(#"{"kvs":null}"#).rangeKeyValues(from: .read).isEmpty)
        #expect(try Self.parsed(#"{"kvs":[\#(Self.keyValue)]}"#).rangeKeyValues(from: .read).map(\.version) == [3])
    }

    /// A keep-alive whose TTL has another type was not understood: it failed, and is tried again;
    /// read as 0 it reported the lease gone, an expiry while the lease lives. Only an omitted (or
    /// null) TTL says that the lease is gone.
    @Test func aKeepAliveTTLOfTheWrongTypeIsAFailedKeepAlive() throws {
        let sentAt = ContinuousClock.now
        func input(_ text: String) throws -> LeaseStateMachine.Input { SessionKeeper.keepAliveInput(try Self.parsed(text), sentAt: sentAt) }
        #expect(try input(#"{"result":{"ID":"7","TTL":"5"}}"#) == .keepAliveConfirmed(sentAt: sentAt))
        #expect(try input(#"{"result":{"ID":"7"}}"#) == .leaseGone)
        #expect(try input(#"{"result":{"ID":"7","TTL":null}}"#) == .leaseGone)
        #expect(try input(#"{"error":"x"}"#) == .keepAliveFailed)
        for replacement in Self.wrongTypes {
            #expect(try input(#"{"result":{"ID":"7","TTL":\#(replacement)}}"#) == .keepAliveFailed, "\(replacement)")
        }
        // A grant's TTL likewise: of another type it is not "not said" (the TTL asked for).
        #expect(try SessionKeeper.grantedTTL(try Self.parsed(#"{"ID":"7","TTL":"5"}"#)) == 5)
        #expect(try SessionKeeper.grantedTTL(try Self.parsed(#"{"ID":"7"}"#)) == nil)
        for replacement in Self.wrongTypes {
            let reply = try Self.parsed(#"{"ID":"7","TTL":\#(replacement)}"#)
            #expect(throws: CoordinationError.self, "\(replacement)") { _ = try SessionKeeper.grantedTTL(reply) }
        }
    }

    /// int64s come as strings; one written as a JSON number is read only when it is the integer
    /// its text says.
    @Test func numbersAreReadOnlyWhenExact() throws {
        let cases: [(String, Int64?)] = [
            (#""9223372036854775807""#, .max), (#""-42""#, -42), (#"42"#, 42), (#"-0"#, 0), (#"4e2"#, 400),
            (#"9007199254740991"#, 9_007_199_254_740_991),
            // Not whole, or beyond what a double holds exactly: some other integer if read.
            (#"1.5"#, nil), (#"-2.5"#, nil), (#"9007199254740993"#, nil), (#"9223372036854775807"#, nil), (#"1e300"#, nil),
            (#""1.5""#, nil), (#""9223372036854775808""#, nil), (#""""#, nil), (#"true"#, nil),
        ]
        for (text, expected) in cases {
            let json = try Self.parsed("[\(text)]").arrayValue[0]
            #expect(json.int64Value == expected, "\(text)")
        }
        let revision = try Self.parsed(#"{"header":{"revision":2.5}}"#)
        #expect(throws: CoordinationError.self, "a revision of 2.5 is no revision") { _ = try TxnReply(revision) }
    }
}

extension String {
    /// The text with what follows the first `marker`, up to (not including) `end`, replaced.
    fileprivate func replacingFirst(_ marker: String, upTo end: Character, with replacement: String) -> String {
        guard let start = range(of: marker)?.upperBound else { return self }
        let stop = self[start...].firstIndex { $0 == end || $0 == "}" } ?? endIndex
        return String(self[..<start]) + replacement + String(self[stop...])
    }
}
