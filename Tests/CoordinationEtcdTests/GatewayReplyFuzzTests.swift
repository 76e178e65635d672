@testable import CoordinationEtcd
import Coordination
import Foundation
import PropertyBased
import Testing

/// Gateway replies cut short or garbled anywhere: parsing never crashes, and decoding what does
/// parse either succeeds or fails with `unavailable` (a malformed reply), never anything else.
@Suite struct GatewayReplyFuzzTests {
    /// Replies of the shapes the store reads, as the gateway writes them.
    static let replies = [
        #"{"header":{"revision":"42"},"succeeded":true,"responses":[{"response_range":{"header":{},"kvs":[{"key":"L2EvYg==","create_revision":"7","mod_revision":"9","version":"3","value":"dg=="}],"count":"1"}},{"response_put":{"header":{"revision":"42"}}}]}"#,
        #"{"header":{"revision":"5"},"responses":[{"response_range":{"header":{},"count":"2"}},{"response_delete_range":{"deleted":"1"}}]}"#,
        #"{"result":{"header":{"revision":"12"},"watch_id":"1","events":[{"type":"DELETE","kv":{"key":"L3g=","mod_revision":"12"}},{"kv":{"key":"L3k=","value":"AAE=","lease":"694d"}}]}}"#,
        #"{"error":{"grpc_code":5,"http_code":404,"message":"etcdserver: requested lease not found","http_status":"Not Found"}}"#,
        #"{"ID":"7587862236474343424","TTL":"10"}"#,
    ].map { Array($0.utf8) }

    @Test func garbledRepliesParseOrFailAsUnavailable() async {
        // A reply, cut at a random point, with a few bytes replaced.
        let reply = Gen.int(in: 0...(Self.replies.count - 1)).map { Self.replies[$0] }
        let cut = Gen.int(in: 0...400)
        let noise = Gen<UInt8>.value(in: 0...255).array(of: 0...4)
        let positions = Gen.int(in: 0...400).array(of: 0...4)
        await propertyCheck(count: 3000, input: reply, cut, noise, positions) { reply, cut, noise, positions in
            var bytes = Array(reply.prefix(cut))
            for (byte, position) in zip(noise, positions) where !bytes.isEmpty { bytes[position % bytes.count] = byte }
            guard let json = JSONValue.parse(bytes) else { return }  // not JSON: the caller reports it as malformed
            Self.expectOnlyMalformedErrors { _ = try KeyValue(json: json) }
            Self.expectOnlyMalformedErrors {
                let reply = try TxnReply(json)
                for index in 0..<3 {
                    Self.expectOnlyMalformedErrors { _ = try reply.range(index) }
                    Self.expectOnlyMalformedErrors { _ = try reply.count(index) }
                }
            }
        }
    }

    @Test func randomBytesNeverCrashTheParser() async {
        await propertyCheck(count: 3000, input: Gen<UInt8>.value(in: 0...255).array(of: 0...64)) { bytes in
            if let json = JSONValue.parse(bytes) {
                #expect(JSONValue.parse(json.serialized) != nil, "what parses serializes to something that parses")
            }
        }
    }

    /// A string parses to exactly its bytes when they are valid UTF-8 and is refused otherwise,
    /// whether it is all ASCII (the fast path) or not.
    @Test func stringsAreTheirBytesOnlyWhenValidUTF8() async {
        let pieces: [[UInt8]] = [Array("a".utf8), Array("Zz09+/=".utf8), Array("é".utf8), Array("日".utf8), [0xC3], [0xFF], [0x80], [0xED, 0xA0, 0x80]]
        await propertyCheck(count: 2000, input: Gen.int(in: 0...(pieces.count - 1)).array(of: 0...8)) { indices in
            let body = indices.flatMap { pieces[$0] }
            let parsed = JSONValue.parse(Array("[\"".utf8) + body + Array("\"]".utf8))
            #expect(parsed == String(validating: body, as: UTF8.self).map { .array([.string($0)]) }, "\(body)")
        }
    }

    @Test func base64MatchesFoundationAndRoundTrips() async {
        await propertyCheck(count: 2000, input: Gen<UInt8>.value(in: 0...255).array(of: 0...40)) { bytes in
            let text = Base64.encode(bytes)
            #expect(text == Data(bytes).base64EncodedString())
            #expect(Base64.decode(text) == bytes)
        }
    }

    @Test func garbledBase64NeverCrashes() async {
        let alphabet = Array("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/=*".utf8)
        let text = Gen.int(in: 0...(alphabet.count - 1)).array(of: 0...16).map { String(decoding: $0.map { alphabet[$0] }, as: UTF8.self) }
        await propertyCheck(count: 2000, input: text) { text in
            if let bytes = Base64.decode(text) {
                #expect(Data(base64Encoded: text).map(Array.init) == bytes, "what decodes, Foundation decodes alike: \(text)")
            }
        }
    }

    static func expectOnlyMalformedErrors(_ body: () throws -> Void) {
        do {
            try body()
        } catch let error as CoordinationError {
            #expect(error.code == .unavailable, "a malformed reply is unavailable, not \(error.code): \(error)")
        } catch {
            Issue.record("threw \(type(of: error)), not CoordinationError")
        }
    }
}
