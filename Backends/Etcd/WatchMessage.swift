import Coordination

/// One message of a `/v3/watch` stream, read as strictly as the kv, txn and lease replies: a
/// field left out (or `null`, proto3's JSON mapping's default) reads as its zero, false or empty
/// value; a field present with another type makes the message malformed, never a zero. A
/// `canceled` of `"true"` read as false kept a cancelled watch waiting for events that never
/// come; `events` of another type read as none let the next message's revision skip them; a
/// `type` of another type read as a put reported a deletion as a write.
enum WatchMessage: Equatable {
    /// The gateway's error, in either of its forms; `nil` when it names no gRPC code.
    case refusal(WatchRefusal?)
    case result(WatchResult)
    /// Neither an error nor a result: nothing the watch acts on.
    case other

    /// - Throws: `unavailable` (a malformed reply) when a field has the wrong type.
    init(_ message: JSONValue) throws(CoordinationError) {
        if let error = message["error"], error != .null {
            self = .refusal(try Self.refusal(error, in: message))
        } else if let result = message["result"], result != .null {
            self = .result(try WatchResult(result))
        } else {
            self = .other
        }
    }

    /// `{"error":{"grpc_code":16,"message":…}}` (a stream's error) or `{"error":…,"code":16,"message":…}`.
    private static func refusal(_ error: JSONValue, in message: JSONValue) throws(CoordinationError) -> WatchRefusal? {
        let holder: JSONValue
        let codeField: String
        switch error {
        case .object:
            (holder, codeField) = (error, "grpc_code")
        case .string:
            (holder, codeField) = (message, "code")
        default:
            throw malformed("an error that is neither an object nor a text")
        }
        guard let code = holder.int64(omittedAsZero: codeField) else { throw malformed("an error whose \(codeField) is not an int64") }
        let words: String?
        switch holder["message"] {
        case nil, .null?: words = nil
        case .string(let text)?: words = text
        default: throw malformed("an error whose message is not a text")
        }
        // Code 0 is gRPC's OK: an error that names none.
        guard code != 0 else { return nil }
        return WatchRefusal(grpcCode: Int(code), message: Gateway.oneLine(words) ?? Gateway.excerpt(error.serialized))
    }

    static func malformed(_ what: String) -> CoordinationError {
        .gateway(.malformed("a watch message with \(what)"), kind: .read)
    }
}

/// The `result` of a watch message (etcd's `WatchResponse`).
struct WatchResult: Equatable {
    struct Event: Equatable {
        var kv: KeyValue
        var isDelete: Bool
    }

    var created = false
    /// The header's revision: the store's revision when the message was sent; `nil` when the
    /// message has no header (or its header no revision), which says nothing of it.
    var headerRevision: Int64?
    var canceled = false
    var compactRevision: Int64 = 0
    var cancelReason: String?
    var events: [Event] = []
    var fragment = false

    init(_ result: JSONValue) throws(CoordinationError) {
        guard case .object = result else { throw WatchMessage.malformed("a result that is not an object") }
        guard let created = result.bool(omittedAsFalse: "created"), let canceled = result.bool(omittedAsFalse: "canceled"),
            let fragment = result.bool(omittedAsFalse: "fragment")
        else { throw WatchMessage.malformed("a created, canceled or fragment flag that is not a bool") }
        guard let compactRevision = result.int64(omittedAsZero: "compact_revision") else {
            throw WatchMessage.malformed("a compact_revision that is not an int64")
        }
        (self.created, self.canceled, self.fragment, self.compactRevision) = (created, canceled, fragment, compactRevision)
        switch result["header"] {
        case nil, .null?: headerRevision = nil
        case let header? where header.isObject:
            switch header["revision"] {
            case nil, .null?: headerRevision = nil
            case let revision?:
                guard let revision = revision.int64Value else { throw WatchMessage.malformed("a header revision that is not an int64") }
                headerRevision = revision
            }
        default: throw WatchMessage.malformed("a header that is not an object")
        }
        switch result["cancel_reason"] {
        case nil, .null?: cancelReason = nil
        case .string(let reason)?: cancelReason = reason.isEmpty ? nil : reason
        default: throw WatchMessage.malformed("a cancel_reason that is not a text")
        }
        guard let events = result.array(omittedAsEmpty: "events") else { throw WatchMessage.malformed("events that are not an array") }
        self.events = try events.map { (event) throws(CoordinationError) in
            guard event.isObject, let kv = event["kv"], kv != .null else { throw WatchMessage.malformed("an event without a key-value") }
            return Event(kv: try KeyValue(json: kv), isDelete: try Self.isDelete(event["type"]))
        }
    }

    /// `mvccpb.Event.EventType`: left out for a put (its zero); proto3's JSON mapping also allows
    /// the number.
    private static func isDelete(_ type: JSONValue?) throws(CoordinationError) -> Bool {
        switch type {
        case nil, .null?, .string("PUT")?, .number(0)?: false
        case .string("DELETE")?, .number(1)?: true
        default: throw WatchMessage.malformed("an event type that is neither PUT nor DELETE")
        }
    }
}

extension JSONValue {
    fileprivate var isObject: Bool {
        if case .object = self { return true }
        return false
    }
}
