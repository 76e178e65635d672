import Coordination
@testable import CoordinationEtcd
import Testing

/// The session's logic, driven without a server.
@Suite struct LeaseStateMachineTests {
    let start = ContinuousClock.now

    func at(_ seconds: Int) -> ContinuousClock.Instant { start.advanced(by: .seconds(seconds)) }

    @Test func grantReportsConnectedAndSchedulesKeepAlive() {
        var machine = LeaseStateMachine(ttl: .seconds(9))
        #expect(machine.start() == [.grant(after: .zero)])
        let actions = machine.handle(.granted(lease: 7, sentAt: at(0)), now: at(0))
        #expect(actions == [.report(.connected, lease: 7, lastContact: at(0)), .keepAlive(lease: 7, after: .seconds(3))])
        #expect(machine.lease == 7)
    }

    /// The first keep-alive counts from the grant's request, not from its answer or from when
    /// the machine heard of it: a grant answered (or handed on) late leaves the lease less time.
    @Test func theFirstKeepAliveCountsFromTheGrantsRequest() {
        var late = LeaseStateMachine(ttl: .seconds(9))
        #expect(late.handle(.granted(lease: 7, sentAt: at(0)), now: at(2)).last == .keepAlive(lease: 7, after: .seconds(1)))
        var later = LeaseStateMachine(ttl: .seconds(9))
        #expect(later.handle(.granted(lease: 7, sentAt: at(0)), now: at(7)).last == .keepAlive(lease: 7, after: .zero))
    }

    /// A late answer is waited for, but a try on a new connection still has the overdue bound
    /// (2 s of a 9 s lease) before the lease ends.
    @Test func aPatientKeepAliveLeavesARetryTimeBeforeTheLeaseEnds() {
        var machine = LeaseStateMachine(ttl: .seconds(9))
        _ = machine.handle(.granted(lease: 7, sentAt: at(0)), now: at(0))
        #expect(machine.patientKeepAliveTimeout(sentAt: at(3)) == .seconds(4))
        #expect(machine.patientKeepAliveTimeout(sentAt: at(6)) == .seconds(2), "never less than the overdue bound")
        _ = machine.handle(.keepAliveConfirmed(sentAt: at(3)), now: at(5))
        #expect(machine.patientKeepAliveTimeout(sentAt: at(6)) == .seconds(4))
    }

    @Test func failedKeepAliveSuspendsOnceThenReconnects() {
        var machine = LeaseStateMachine(ttl: .seconds(9))
        _ = machine.handle(.granted(lease: 7, sentAt: at(0)), now: at(0))
        _ = machine.handle(.keepAliveConfirmed(sentAt: at(3)), now: at(3))
        let first = machine.handle(.keepAliveFailed, now: at(6))
        #expect(first == [.report(.suspended, lease: 7, lastContact: at(3)), .keepAlive(lease: 7, after: .milliseconds(500))])
        // A second failure reports nothing new, and keeps the last confirmed contact.
        #expect(machine.handle(.keepAliveFailed, now: at(7)) == [.keepAlive(lease: 7, after: .milliseconds(500))])
        let back = machine.handle(.keepAliveConfirmed(sentAt: at(8)), now: at(8))
        #expect(back == [.report(.reconnected, lease: 7, lastContact: at(8)), .keepAlive(lease: 7, after: .seconds(3))])
    }

    /// A late answer suspends the session while the request goes on; when it comes, it renews
    /// the lease, and the next keep-alive goes a third of a TTL after the request, not the answer.
    @Test func lateKeepAliveSuspendsThenItsAnswerReconnects() {
        var machine = LeaseStateMachine(ttl: .seconds(9))
        _ = machine.handle(.granted(lease: 7, sentAt: at(0)), now: at(0))
        #expect(machine.keepAliveOverdueAfter == .seconds(2))
        #expect(machine.handle(.keepAliveOverdue, now: at(5)) == [.report(.suspended, lease: 7, lastContact: at(0))])
        #expect(machine.handle(.keepAliveOverdue, now: at(6)) == [], "suspended once")
        let back = machine.handle(.keepAliveConfirmed(sentAt: at(3)), now: at(7))
        #expect(back == [.report(.reconnected, lease: 7, lastContact: at(3)), .keepAlive(lease: 7, after: .zero)])
        #expect(machine.handle(.keepAliveConfirmed(sentAt: at(7)), now: at(8)) == [.contact(lastContact: at(7)), .keepAlive(lease: 7, after: .seconds(2))])
    }

    @Test func leaseGoneReportsExpiredThenGrantsANewSession() {
        var machine = LeaseStateMachine(ttl: .seconds(9))
        _ = machine.handle(.granted(lease: 7, sentAt: at(0)), now: at(0))
        let expired = machine.handle(.leaseGone, now: at(4))
        #expect(expired == [.report(.expired, lease: 7, lastContact: at(0)), .grant(after: .zero)])
        #expect(machine.lease == nil)
        #expect(machine.handle(.grantFailed, now: at(5)) == [.grant(after: .milliseconds(500))])
        let renewed = machine.handle(.granted(lease: 8, sentAt: at(6)), now: at(6))
        #expect(renewed == [.report(.connected, lease: 8, lastContact: at(6)), .keepAlive(lease: 8, after: .seconds(3))])
    }

    @Test func closeRevokesTheLeaseAndStops() {
        var machine = LeaseStateMachine(ttl: .seconds(9))
        _ = machine.handle(.granted(lease: 7, sentAt: at(0)), now: at(0))
        #expect(machine.handle(.close, now: at(1)) == [.revoke(lease: 7, within: .seconds(2)), .report(.closed, lease: 7, lastContact: at(1)), .stop])
        // Nothing happens after close, whatever arrives late.
        #expect(machine.handle(.keepAliveConfirmed(sentAt: at(2)), now: at(2)) == [])
        #expect(machine.handle(.granted(lease: 9, sentAt: at(2)), now: at(2)) == [])
    }

    /// Out of contact, a close waits for the revoke only while the lease may still live: not at
    /// all once the TTL has passed since the last contact (etcd has ended it by then).
    @Test func closeOutOfContactRevokesOnlyWithinTheLease() {
        var machine = LeaseStateMachine(ttl: .seconds(9))
        _ = machine.handle(.granted(lease: 7, sentAt: at(0)), now: at(0))
        _ = machine.handle(.keepAliveFailed, now: at(3))
        var early = machine
        #expect(early.handle(.close, now: at(8)) == [.revoke(lease: 7, within: .seconds(1)), .report(.closed, lease: 7, lastContact: at(8)), .stop])
        #expect(machine.handle(.close, now: at(9)) == [.report(.closed, lease: 7, lastContact: at(9)), .stop])
        var granting = LeaseStateMachine(ttl: .seconds(9))
        #expect(granting.handle(.close, now: at(1)) == [.report(.closed, lease: 0, lastContact: at(1)), .stop])
    }

    @Test func lateAnswersFromAnEarlierStateAreIgnored() {
        var machine = LeaseStateMachine(ttl: .seconds(9))
        _ = machine.handle(.granted(lease: 7, sentAt: at(0)), now: at(0))
        _ = machine.handle(.leaseGone, now: at(1))
        #expect(machine.handle(.keepAliveConfirmed(sentAt: at(2)), now: at(2)) == [])
        #expect(machine.handle(.keepAliveFailed, now: at(2)) == [])
    }

    /// etcd renewed the lease somewhere between the request and its answer: the TTL counts from
    /// the request, or a slow answer would make the session look safe for longer than etcd keeps it.
    @Test func lastContactIsWhenTheAnsweredRequestWasSent() {
        var machine = LeaseStateMachine(ttl: .seconds(9))
        let granted = machine.handle(.granted(lease: 7, sentAt: at(0)), now: at(2))
        #expect(granted.first == .report(.connected, lease: 7, lastContact: at(0)))
        // While all is well, each confirmation moves the last contact on without a report, so
        // that `session` says how recent it is before any loss is noticed.
        #expect(machine.handle(.keepAliveConfirmed(sentAt: at(3)), now: at(5)).first == .contact(lastContact: at(3)))
        let suspended = machine.handle(.keepAliveFailed, now: at(8))
        #expect(suspended.first == .report(.suspended, lease: 7, lastContact: at(3)))
        let back = machine.handle(.keepAliveConfirmed(sentAt: at(9)), now: at(11))
        #expect(back.first == .report(.reconnected, lease: 7, lastContact: at(9)))
    }

    /// etcd raises a TTL below its minimum lease TTL (2 s by default): a 1 s session was reported,
    /// and kept alive, as 1 s while etcd kept its lease for 2.
    @Test func theGrantedTTLIsTheSessionsWhenItDiffersFromTheOneAsked() {
        var machine = LeaseStateMachine(ttl: .seconds(1))
        #expect(machine.requestedSeconds == 1)
        let granted = machine.handle(.granted(lease: 7, ttl: 2, sentAt: at(0)), now: at(0))
        #expect(machine.ttl == .seconds(2))
        #expect(granted.last == .keepAlive(lease: 7, after: .seconds(2) / 3))
        // A new lease after an expiry takes its own grant's TTL, and with none stated the one asked.
        _ = machine.handle(.leaseGone, now: at(1))
        _ = machine.handle(.granted(lease: 8, sentAt: at(2)), now: at(2))
        #expect(machine.ttl == .seconds(1))
    }

    /// Leases come in whole seconds: 1.5 s asks for 2, and the lease lives 2 s after its holder.
    @Test func aTTLInPartsOfASecondIsTheWholeSecondsGranted() {
        var machine = LeaseStateMachine(ttl: .milliseconds(1500))
        #expect(machine.requestedSeconds == 2)
        _ = machine.handle(.granted(lease: 7, ttl: 2, sentAt: at(0)), now: at(0))
        #expect(machine.ttl == .seconds(2))
        // A grant as asked changes nothing.
        var whole = LeaseStateMachine(ttl: .seconds(9))
        _ = whole.handle(.granted(lease: 7, ttl: 9, sentAt: at(0)), now: at(0))
        #expect(whole.ttl == .seconds(9))
    }

    @Test func shortTTLRetriesFaster() {
        let machine = LeaseStateMachine(ttl: .seconds(2))
        #expect(machine.retryInterval == .seconds(2) / 6)
        #expect(machine.keepAliveInterval == .seconds(2) / 3)
    }
}

/// The gateway's JSON: numbers as strings, omitted zero fields, truncated replies.
@Suite struct GatewayJSONTests {
    @Test func readsInt64WrittenAsStringsAndOmittedFieldsAsZero() throws {
        let json = try #require(JSONValue.parse(Array(#"{"kvs":[{"key":"L2E=","create_revision":"12","mod_revision":"14","version":"3"}],"count":"1"}"#.utf8)))
        let kv = try KeyValue(json: try #require(json["kvs"]?.arrayValue.first))
        #expect(kv.key == Array("/a".utf8))
        #expect(kv.value == [])
        #expect(kv.createRevision == 12 && kv.modRevision == 14 && kv.version == 3 && kv.lease == 0)
        #expect(json["count"]?.int64Value == 1)
    }

    @Test func tellsBooleansFromNumbers() throws {
        let json = try #require(JSONValue.parse(Array(#"{"succeeded":true,"code":5,"created":false}"#.utf8)))
        #expect(json["succeeded"] == .bool(true))
        #expect(json["created"] == .bool(false))
        #expect(json["code"]?.int64Value == 5)
    }

    @Test func truncatedReplyIsNotParsed() {
        #expect(JSONValue.parse(Array(#"{"header":{"revision":"3""#.utf8)) == nil)
        #expect(JSONValue.parse([]) == nil)
    }

    @Test func readsEscapesAndUnicodeAsTheRFCSays() throws {
        let json = try #require(JSONValue.parse(Array(#" {"a" : "q\"\\\/\b\f\n\r\t\u00e9\ud83d\ude00é", "n":[-0.5e+2, 0, 12]} "#.utf8)))
        #expect(json["a"] == .string("q\"\\/\u{8}\u{c}\n\r\té😀é"))
        #expect(json["n"] == [.number(-50), .number(0), .number(12)])
        #expect(JSONValue.parse(Array(#""x""#.utf8)) == .string("x"), "a fragment is a document")
    }

    @Test func refusesWhatIsNotExactlyOneDocument() {
        let malformed = [
            #"{"a":1,}"#, #"[1 2]"#, #"{"a" 1}"#, #"{a:1}"#, "01", "1.", "-", "1e", "1e999", "tru", "nul",
            #""\ud83d""#, #""\ude00""#, #""\x""#, "\"tab\there\"", #"{"a":1} x"#, "", "   ",
        ]
        for text in malformed {
            #expect(JSONValue.parse(Array(text.utf8)) == nil, "\(text)")
        }
        #expect(JSONValue.parse([0x22, 0xC3, 0x28, 0x22]) == nil, "invalid UTF-8 in a string")
        #expect(JSONValue.parse(Array(repeating: UInt8(ascii: "["), count: 100_000)) == nil, "deep nesting is refused, not a stack overflow")
    }

    @Test func base64AsTheGatewayWritesIt() {
        #expect(Base64.encode(Array("/a/b".utf8)) == "L2EvYg==")
        #expect(Base64.decode("L2EvYg==") == Array("/a/b".utf8))
        #expect(Base64.decode("") == [])
        for bad in ["L2E", "L2E*", "L=Ev", "L2==Yg==", "=AAA", "AA=A"] {
            #expect(Base64.decode(bad) == nil, "\(bad)")
        }
    }

    @Test func truncatedTxnReplyIsUnavailableNotACrash() throws {
        let json = try #require(JSONValue.parse(Array(#"{"succeeded":true}"#.utf8)))
        let error = #expect(throws: CoordinationError.self) { try TxnReply(json) }
        #expect(error?.code == .unavailable)
        #expect(error?.backendDetail?.contains("malformed") == true)
        // The same reply to a write: it reached etcd, and what it did cannot be read.
        let afterWrite = #expect(throws: CoordinationError.self) { try TxnReply(json, from: .write) }
        #expect(afterWrite?.code == .connectionLoss)
    }

    @Test func serializesEscapesAndNumbers() {
        let value: JSONValue = ["a": "q\"\\\n", "n": .int64(-3), "b": true, "list": [1, 2]]
        #expect(String(decoding: value.serialized, as: UTF8.self) == #"{"a":"q\"\\\u000a","b":true,"list":[1,2],"n":"-3"}"#)
    }

    @Test func oneMappingForGatewayErrors() {
        func code(_ status: Int, _ grpc: Int?, _ message: String, _ kind: RequestKind = .read) -> CoordinationError.Code {
            CoordinationError.gateway(.status(status, grpcCode: grpc, message: message), kind: kind).code
        }
        #expect(code(401, 16, "etcdserver: invalid auth token") == .unauthenticated)
        #expect(code(400, 3, "etcdserver: authentication failed, invalid user ID or password") == .unauthenticated)
        #expect(code(403, 7, "etcdserver: permission denied") == .permissionDenied)
        #expect(code(404, 5, "etcdserver: requested lease not found") == .sessionExpired)
        #expect(code(400, 3, "etcdserver: too many operations in txn request") == .transactionTooLarge)
        #expect(code(400, 3, "etcdserver: key not found", .write) == .noNode, "a put with ignore_lease on a missing key")
        #expect(code(503, 14, "etcdserver: request timed out", .write) == .connectionLoss)
        #expect(code(503, 14, "etcdserver: no leader") == .unavailable)
        // Errors etcd gives after proposing a write leave its outcome unknown; those it gives
        // before proposing do not.
        #expect(code(503, 14, "etcdserver: server stopped", .write) == .connectionLoss)
        #expect(code(503, 14, "transport is closing", .write) == .connectionLoss)
        #expect(code(503, 14, "etcdserver: leader changed", .write) == .connectionLoss)
        #expect(code(500, 1, "etcdserver: request cancelled", .write) == .connectionLoss)
        #expect(code(502, nil, "Bad Gateway", .write) == .connectionLoss)
        #expect(code(503, 14, "etcdserver: no leader", .write) == .unavailable)
        #expect(code(429, 8, "etcdserver: too many requests", .write) == .unavailable)
        #expect(code(503, 14, "etcdserver: server stopped") == .unavailable, "a read changed nothing")
        let detail = CoordinationError.gateway(.status(404, grpcCode: 5, message: "lease not found"), kind: .read).backendDetail
        #expect(detail == "HTTP 404, gRPC code 5: lease not found")
        let lost = CoordinationError.gateway(.transport(TransportFailure(code: 56, message: "Recv failure"), endpoint: "http://x"), kind: .write)
        #expect(lost.code == .connectionLoss)
        let refused = CoordinationError.gateway(.transport(TransportFailure(code: 7, message: "refused"), endpoint: "http://x"), kind: .write)
        #expect(refused.code == .unavailable)
    }

    @Test func streamErrorsInsideA200ReplyAreRead() {
        let reply = Array(#"{"error":{"grpc_code":16,"http_code":401,"message":"etcdserver: invalid auth token","http_status":"Unauthorized"}}"#.utf8)
        guard case .status(let status, let code, let message, _) = Gateway.failure(status: 200, reply: reply, endpoint: "http://x") else {
            Issue.record("a stream error is a status failure")
            return
        }
        #expect(status == 401 && code == 16 && message == "etcdserver: invalid auth token")
        guard case .notGateway(400, let text, "http://x") = Gateway.failure(status: 400, reply: Array("<html>".utf8), endpoint: "http://x") else {
            Issue.record("a non-JSON error body is not the gateway's, and is described as it came")
            return
        }
        #expect(text == "<html>")
    }

    @Test func keySpaceRangesDoNotReachPrefixSiblings() throws {
        let space = KeySpace(namespace: try Key("/ns"))
        let (start, end) = space.subtree(try Key("/a"))
        #expect(start == Array("/ns/a/".utf8) && end == Array("/ns/a0".utf8))
        #expect(!(Array("/ns/ab".utf8).lexicographicallyPrecedes(end) && !Array("/ns/ab".utf8).lexicographicallyPrecedes(start)))
        #expect(space.key(for: Array("/ns/a/b".utf8)) == (try Key("/a/b")))
        #expect(space.key(for: Array("/ns2/a".utf8)) == nil)
        #expect(space.key(for: Array("/ns".utf8)) == nil)
        #expect(space.counter(of: try Key("/q")).first != UInt8(ascii: "/"))
        let root = KeySpace(namespace: .root).subtree(.root)
        #expect(root.start == Array("/".utf8) && root.end == Array("0".utf8))
    }
}
