import Coordination
@testable import CoordinationEtcd
import Foundation
import CoordinationLocalServers
import CoordinationTestSupport
import Testing

/// A third-party client (etcd3gw, from PyPI: `python3 -m pip install etcd3gw`) and the EtcdStore
/// read each other's writes byte for byte, on the shared etcd.
@Suite(
    .serverLoadLimit,
    .enabled("needs etcd and python3 with etcd3gw") {
    guard await SharedEtcd.shouldRun() else { return false }
    if SharedEtcd.isCI { return true }  // under CI a missing etcd3gw must fail, not skip
    let available = (try? await ChildProcessLaunch.runToCompletion("/usr/bin/env", ["python3", "-c", "import etcd3gw"], in: NSTemporaryDirectory())) != nil
    if !available { print("⚠️ python3 -c 'import etcd3gw' failed (python3 -m pip install etcd3gw): skipping the cross-check") }
    return available
})
struct Etcd3gwCrossCheckTests {
    /// Values that catch any re-encoding: every byte, empty, text with non-ASCII, a large blob.
    static let values: [String: [UInt8]] = [
        "/x/bytes": Array(0...255),
        "/x/empty": [],
        "/x/text": Array("héllo, wörld ✓\n".utf8),
        "/x/large": (0..<200_000).map { UInt8(truncatingIfNeeded: $0 &* 31 &+ 7) },
        "/x/deep/er/key": [0xFF, 0x00, 0xFE],
    ]

    static let script = #"""
    import sys, json, binascii
    from etcd3gw.client import Etcd3Client
    mode, host, port, request_path, reply_path = sys.argv[1:6]
    client = Etcd3Client(host=host, port=int(port), timeout=10)
    request = json.load(open(request_path))
    reply = {}
    if mode == "write":
        for key, hexvalue in request.items():
            client.put(key, binascii.unhexlify(hexvalue))
        for key in request:
            value, meta = client.get(key, metadata=True)[0]
            reply[key] = {"mod_revision": int(meta["mod_revision"])}
    else:
        for key in request:
            found = client.get(key, metadata=True)
            if found:
                value, meta = found[0]
                reply[key] = {"value": binascii.hexlify(value).decode(), "version": int(meta["version"]),
                              "create_revision": int(meta["create_revision"]), "mod_revision": int(meta["mod_revision"]),
                              "lease": str(int(meta.get("lease", 0)))}
    json.dump(reply, open(reply_path, "w"))
    """#

    func etcd3gw(_ mode: String, _ request: [String: String]) async throws -> [String: [String: JSONValue]] {
        let directory = NSTemporaryDirectory() + "coordination-etcd3gw-\(UUID().uuidString.prefix(8))"
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: directory) }
        try Self.script.write(toFile: "\(directory)/check.py", atomically: true, encoding: .utf8)
        let requestData = try JSONSerialization.data(withJSONObject: request)
        try requestData.write(to: URL(fileURLWithPath: "\(directory)/request.json"))
        let endpoint = SharedEtcd.endpoints[0].split(separator: ":")
        try await ChildProcessLaunch.runToCompletion(
            "/usr/bin/env", ["python3", "check.py", mode, String(endpoint[0]), String(endpoint.last ?? "2379"), "request.json", "reply.json"],
            in: directory)
        let reply = try #require(JSONValue.parse(Array(try Data(contentsOf: URL(fileURLWithPath: "\(directory)/reply.json")))))
        guard case .object(let entries) = reply else { return [:] }
        return entries.mapValues { entry in
            if case .object(let fields) = entry { return fields }
            return [:]
        }
    }

    static func hex(_ bytes: [UInt8]) -> String { bytes.map { String(format: "%02x", $0) }.joined() }

    @Test func etcd3gwReadsWhatTheStoreWrote() async throws {
        let namespace = SharedEtcd.uniqueNamespace("crosscheck")
        // A long TTL: the ephemeral key must still be there when python3 and etcd3gw, slow to
        // start under a full test run's load, read it (a landing CI once took 11.7 s here).
        let store = try await SharedEtcd.open(namespace, ttl: .seconds(60))
        var written: [String: Record] = [:]
        for (path, value) in Self.values { written[path] = try await store.create(try Key(path), value: value, mode: .persistent) }
        let ephemeral = try await store.create(try Key("/x/eph"), value: [1], mode: .ephemeral)
        let seen = try await etcd3gw("read", Dictionary(uniqueKeysWithValues: (Array(Self.values.keys) + ["/x/eph"]).map { (namespace.path + $0, "") }))
        for (path, record) in written {
            let entry = try #require(seen[namespace.path + path], "etcd3gw must see \(path) as the plain etcd key \(namespace.path + path)")
            #expect(entry["value"]?.stringValue == Self.hex(record.value), "bytes of \(path)")
            #expect(entry["version"]?.int64Value == record.version + 1, "etcd's version is the contract's + 1")
            #expect(entry["create_revision"]?.int64Value == record.createRevision)
            #expect(entry["mod_revision"]?.int64Value == record.modRevision)
        }
        let seenEphemeral = try #require(seen[namespace.path + "/x/eph"], "etcd3gw must see the ephemeral key while its session lives")
        // A lease id is past 2^53, which a JSON number does not carry exactly: it comes as a string, as the gateway writes it.
        #expect(seenEphemeral["lease"]?.int64Value == store.leaseID, "an ephemeral key carries the session's lease")
        #expect(ephemeral.isEphemeral)
        try await store.delete(.root, ifVersion: nil, recursive: true)
        await store.close()
        try await EtcdAdmin(endpoints: SharedEtcd.endpoints).deletePrefix(namespace.path)
    }

    @Test func theStoreReadsWhatEtcd3gwWrote() async throws {
        let namespace = SharedEtcd.uniqueNamespace("crosscheck")
        var request: [String: String] = [:]
        for (path, value) in Self.values { request[namespace.path + path] = Self.hex(value) }
        // etcd3gw makes no ancestors; write the ones the tree needs, as another client of the layout would.
        for path in ["/x", "/x/deep", "/x/deep/er"] { request[namespace.path + path] = "" }
        let written = try await etcd3gw("write", request)
        let store = try await SharedEtcd.open(namespace)
        for (path, value) in Self.values {
            let record = try #require(try await store.get(try Key(path)), "the store must read \(path)")
            #expect(record.value == value, "bytes of \(path)")
            #expect(record.version == 0 && !record.isEphemeral)
            #expect(record.modRevision == written[namespace.path + path]?["mod_revision"]?.int64Value)
        }
        #expect(try await store.children(of: try Key("/x")) == ["bytes", "deep", "empty", "large", "text"])
        try await store.delete(.root, ifVersion: nil, recursive: true)
        await store.close()
        try await EtcdAdmin(endpoints: SharedEtcd.endpoints).deletePrefix(namespace.path)
    }
}
