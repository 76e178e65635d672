import Coordination

/// One etcd `mvccpb.KeyValue` as the gateway writes it (zero fields omitted).
struct KeyValue: Sendable, Equatable {
    var key: [UInt8]
    var value: [UInt8]
    var createRevision: Int64
    var modRevision: Int64
    /// etcd's version: 1 at creation. The contract's version is this minus one.
    var version: Int64
    var lease: Int64

    /// - Parameter kind: the request that brought it: a write's unreadable reply leaves its outcome unknown.
    init(json: JSONValue, from kind: RequestKind = .read) throws(CoordinationError) {
        guard let key = json["key"]?.base64Bytes else {
            throw .gateway(.malformed("a key-value without a decodable key"), kind: kind)
        }
        self.key = key
        // An omitted field is zero (or empty), and so is a null one (proto3's JSON mapping); one
        // present but unreadable is a malformed reply, never a zero: a version read as 0 is a
        // wrong record, not a missing one.
        let value: [UInt8]? = json["value"] == nil || json["value"] == .null ? [] : json["value"]?.base64Bytes
        guard let value, let createRevision = json.int64(omittedAsZero: "create_revision"),
            let modRevision = json.int64(omittedAsZero: "mod_revision"), let version = json.int64(omittedAsZero: "version"),
            let lease = json.int64(omittedAsZero: "lease")
        else {
            throw .gateway(.malformed("a key-value whose value is not base64 or whose revision, version or lease is not an int64"), kind: kind)
        }
        self.value = value
        self.createRevision = createRevision
        self.modRevision = modRevision
        self.version = version
        self.lease = lease
    }

    init(key: [UInt8], value: [UInt8], createRevision: Int64, modRevision: Int64, version: Int64, lease: Int64) {
        self.key = key
        self.value = value
        self.createRevision = createRevision
        self.modRevision = modRevision
        self.version = version
        self.lease = lease
    }
}

/// How the store's keys sit in etcd's flat key space.
///
/// Key `/a/b` in namespace `/ns` is the plain etcd key `/ns/a/b`. A key's children are the range
/// `[/ns/a/b/, /ns/a/b0)` (`0` follows `/`), so `/a` never lists `/ab`. Sequential counters live
/// under `coordination/sequence/…`, which does not start with `/`: no namespace can reach them.
struct KeySpace: Sendable {
    let namespace: Key
    static let counterBase: [UInt8] = Array("coordination/sequence".utf8)

    /// The etcd key of `key`.
    func etcdKey(_ key: Key) -> [UInt8] { Array(namespace.appending(key).path.utf8) }

    /// The etcd keys of the namespace and its ancestors, outermost first. They exist, empty, as
    /// a ZooKeeper chroot's znodes must: a handle at a parent namespace sees this one among its
    /// children, and no key of this namespace is left without its parents there.
    var namespaceChain: [[UInt8]] {
        namespace.isRoot ? [] : (namespace.ancestors + [namespace]).map { Array($0.path.utf8) }
    }

    /// Compares that hold while the namespace's keys exist and are persistent (a key may have
    /// children only then).
    var namespaceExists: [JSONValue] {
        namespaceChain.flatMap { [EtcdRequest.compare($0, .create, .greater, 0), EtcdRequest.compare($0, .lease, .equal, 0)] }
    }

    /// The range holding everything strictly beneath `key`.
    func subtree(_ key: Key) -> (start: [UInt8], end: [UInt8]) {
        let full = namespace.appending(key)
        let start = full.isRoot ? Array("/".utf8) : Array((full.path + "/").utf8)
        return (start, Self.prefixEnd(start))
    }

    /// Maps an etcd key back to a key of this namespace; `nil` when it is outside it or not a valid key
    /// (written by another tool). The namespace's prefix comes off first: the length limit is the
    /// user's key's, which a namespace must not shorten (a key of the maximum length under `/ns`
    /// is a longer etcd key, and was once missing from walks and watches).
    func key(for etcdKey: [UInt8]) -> Key? {
        let prefix = namespace.isRoot ? 0 : namespace.path.utf8.count
        guard etcdKey.count > prefix + 1, namespace.isRoot || etcdKey.starts(with: namespace.path.utf8),
            etcdKey[prefix] == UInt8(ascii: "/"), let text = String(validating: etcdKey[prefix...], as: UTF8.self)
        else { return nil }
        return try? Key(text)
    }

    /// A listing's keys, told apart: those a ``Key`` names, and the etcd keys none can name
    /// (`/ns/a//b`, `/ns/dir/`, written by another tool). Reads skip the latter, yet they are
    /// there: a key with one beneath is not empty, and a non-recursive delete must refuse it.
    func partition(_ listed: [KeyValue]) -> (named: [Key], foreign: [[UInt8]]) {
        var named: [Key] = []
        var foreign: [[UInt8]] = []
        for kv in listed {
            if let key = key(for: kv.key) { named.append(key) } else { foreign.append(kv.key) }
        }
        return (named, foreign)
    }

    /// What a role limited to a prefix must be granted for every operation to work here: the
    /// namespace's keys and the sequential counters of its keys, which live outside it (deletes
    /// and sequential creates write them).
    var grantsNeeded: String {
        let counters = String(decoding: Self.counterBase + etcdKey(.root), as: UTF8.self)
        let keys = namespace.isRoot ? "every key" : "\(namespace.path) and the keys beneath"
        return "a user limited to a prefix needs readwrite on \(keys) and on \(counters) and the keys beneath "
            + "(sequential counters live there), e.g. etcdctl role grant-permission ROLE --prefix=true readwrite \(counters)"
    }

    /// The counter of sequential children of `parent`.
    func counter(of parent: Key) -> [UInt8] { Self.counterBase + etcdKey(parent) }

    /// The txn request that deletes `key`'s counter. A deleted key takes its counter with it, so a
    /// parent created anew numbers its children as a new one does, as on ZooKeeper (clause 6).
    func counterDeletion(of key: Key) -> JSONValue { ["request_delete_range": EtcdRequest.deleteRange(counter(of: key))] }

    /// The counters of `key`'s strict descendants.
    func counters(beneath key: Key) -> (start: [UInt8], end: [UInt8]) {
        let (start, end) = subtree(key)
        return (Self.counterBase + start, Self.counterBase + end)
    }

    /// The first key after every key that starts with `prefix`.
    static func prefixEnd(_ prefix: [UInt8]) -> [UInt8] {
        var end = prefix
        while let last = end.last {
            if last < 0xFF {
                end[end.count - 1] = last + 1
                return end
            }
            end.removeLast()
        }
        return [0]  // every key: etcd's "\0" range end
    }

    func record(_ kv: KeyValue, as key: Key) -> Record {
        Record(
            key: key, value: kv.value, version: kv.version - 1, createRevision: kv.createRevision,
            modRevision: kv.modRevision, isEphemeral: kv.lease != 0, ownerSession: SessionKeeper.owner(ofLease: kv.lease))
    }
}

/// Builders for the gateway's request bodies (`etcdserverpb` messages in JSON).
enum EtcdRequest {
    static func range(_ key: [UInt8], end: [UInt8]? = nil, keysOnly: Bool = false, countOnly: Bool = false, limit: Int = 0) -> JSONValue {
        var fields: [String: JSONValue] = ["key": .bytes(key)]
        if let end { fields["range_end"] = .bytes(end) }
        if keysOnly { fields["keys_only"] = true }
        if countOnly { fields["count_only"] = true }
        if limit > 0 { fields["limit"] = .int64(Int64(limit)) }
        return .object(fields)
    }

    static func put(_ key: [UInt8], value: [UInt8], lease: Int64 = 0, ignoreLease: Bool = false, previous: Bool = false) -> JSONValue {
        var fields: [String: JSONValue] = ["key": .bytes(key), "value": .bytes(value)]
        if lease != 0 { fields["lease"] = .int64(lease) }
        if ignoreLease { fields["ignore_lease"] = true }
        if previous { fields["prev_kv"] = true }
        return .object(fields)
    }

    static func deleteRange(_ key: [UInt8], end: [UInt8]? = nil) -> JSONValue {
        var fields: [String: JSONValue] = ["key": .bytes(key)]
        if let end { fields["range_end"] = .bytes(end) }
        return .object(fields)
    }

    enum Target: String { case version = "VERSION", create = "CREATE", mod = "MOD", lease = "LEASE" }
    enum Result: String { case equal = "EQUAL", greater = "GREATER", less = "LESS", notEqual = "NOT_EQUAL" }

    /// A txn compare; with `end`, it must hold for every key in the range (an empty range
    /// compares as one key whose fields are all zero).
    static func compare(_ key: [UInt8], end: [UInt8]? = nil, _ target: Target, _ result: Result, _ value: Int64) -> JSONValue {
        let field: String
        switch target {
        case .version: field = "version"
        case .create: field = "create_revision"
        case .mod: field = "mod_revision"
        case .lease: field = "lease"
        }
        // Fields at protobuf's defaults (`VERSION`, `EQUAL`, 0) are left out: the gateway decodes
        // every field it is sent, and etcd reads an absent one as its default.
        var fields: [String: JSONValue] = ["key": .bytes(key)]
        if target != .version { fields["target"] = .string(target.rawValue) }
        if result != .equal { fields["result"] = .string(result.rawValue) }
        if value != 0 { fields[field] = .int64(value) }
        if let end { fields["range_end"] = .bytes(end) }
        return .object(fields)
    }

    /// etcd's default `--max-txn-ops`: the most compares, and the most requests in each branch,
    /// of one txn, nested txns included. The contract's transaction limit is half of it, since an
    /// operation may need two writes here (its own and its sequence counter's).
    static let maxOperationsPerBranch = 128

    /// An empty failure branch is left out: the gateway decodes every field it is sent.
    static func txn(compare: [JSONValue], success: [JSONValue], failure: [JSONValue] = []) -> JSONValue {
        var fields: [String: JSONValue] = ["compare": .array(compare), "success": .array(success)]
        if !failure.isEmpty { fields["failure"] = .array(failure) }
        return .object(fields)
    }
}

/// A txn's reply: whether its compares held, its revision, and each response in order.
struct TxnReply: Sendable {
    var succeeded: Bool
    var revision: Int64
    var responses: [JSONValue]
    /// Whether the txn wrote: an unreadable part of a write's reply leaves its outcome unknown.
    let kind: RequestKind

    init(_ json: JSONValue, from kind: RequestKind = .read) throws(CoordinationError) {
        self.kind = kind
        guard let revision = json["header"]?["revision"]?.int64Value else {
            throw .gateway(.malformed("a txn reply without a header revision"), kind: kind)
        }
        self.revision = revision
        // Read as false, a `"succeeded":"true"` would send an applied write down the retry path.
        guard let succeeded = json.bool(omittedAsFalse: "succeeded"), let responses = json.array(omittedAsEmpty: "responses") else {
            throw .gateway(.malformed("a txn reply whose succeeded or responses field has the wrong type"), kind: kind)
        }
        self.succeeded = succeeded
        self.responses = responses
    }

    /// The key-values of response `index`, which must be a range.
    func range(_ index: Int) throws(CoordinationError) -> [KeyValue] {
        guard index < responses.count, let range = responses[index]["response_range"] else {
            throw .gateway(.malformed("txn reply lacks range response \(index)"), kind: kind)
        }
        guard let items = range.array(omittedAsEmpty: "kvs") else {
            throw .gateway(.malformed("range response \(index) has kvs that are not an array"), kind: kind)
        }
        var result: [KeyValue] = []
        for item in items { result.append(try KeyValue(json: item, from: kind)) }
        return result
    }

    /// The key-value that put response `index` (sent with `prev_kv`) replaced.
    func previous(_ index: Int) throws(CoordinationError) -> KeyValue {
        guard index < responses.count, let previous = responses[index]["response_put"]?["prev_kv"] else {
            throw .gateway(.malformed("txn reply lacks the previous key-value of put response \(index)"), kind: kind)
        }
        return try KeyValue(json: previous, from: kind)
    }

    /// The `count` of range response `index`.
    func count(_ index: Int) throws(CoordinationError) -> Int64 {
        guard index < responses.count, let range = responses[index]["response_range"] else {
            throw .gateway(.malformed("txn reply lacks range response \(index)"), kind: kind)
        }
        return try range.rangeCount(from: kind)
    }

    /// How many keys delete-range response `index` deleted.
    func deleted(_ index: Int) throws(CoordinationError) -> Int64 {
        guard index < responses.count, let deletion = responses[index]["response_delete_range"] else {
            throw .gateway(.malformed("txn reply lacks delete-range response \(index)"), kind: kind)
        }
        return try deletion.deletedCount(from: kind)
    }
}

/// Counts in a range or delete-range reply, a request's own or a txn's response: zero when
/// omitted (or null), a malformed reply when of another type, never zero then (a count read as 0
/// says a key that exists is missing).
extension JSONValue {
    /// - Parameter kind: the request that brought it: a write's unreadable reply leaves its outcome unknown.
    func rangeCount(from kind: RequestKind) throws(CoordinationError) -> Int64 {
        guard let count = int64(omittedAsZero: "count") else {
            throw .gateway(.malformed("a range reply whose count is not an int64"), kind: kind)
        }
        return count
    }

    /// The key-values of a range reply: none when `kvs` is omitted (or null), a malformed reply
    /// when it is not an array of key-values, never "none" then (a record that exists read as missing).
    /// - Parameter kind: the request that brought it: a write's unreadable reply leaves its outcome unknown.
    func rangeKeyValues(from kind: RequestKind) throws(CoordinationError) -> [KeyValue] {
        guard let items = array(omittedAsEmpty: "kvs") else {
            throw .gateway(.malformed("a range reply whose kvs is not an array"), kind: kind)
        }
        var result: [KeyValue] = []
        for item in items { result.append(try KeyValue(json: item, from: kind)) }
        return result
    }

    /// - Parameter kind: the request that brought it: a write's unreadable reply leaves its outcome unknown.
    func deletedCount(from kind: RequestKind) throws(CoordinationError) -> Int64 {
        guard let deleted = int64(omittedAsZero: "deleted") else {
            throw .gateway(.malformed("a delete-range reply whose deleted count is not an int64"), kind: kind)
        }
        return deleted
    }
}
