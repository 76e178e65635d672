import Coordination
import Foundation

/// The JSON shape of a record for `--json` and `kv watch`: one object per line, value in base64.
struct RecordJSON: Encodable {
    var key: String
    var value: String
    var version: Int64
    var createRevision: Int64
    var modRevision: Int64
    var ephemeral: Bool
    /// The session an ephemeral key belongs to (absent for a persistent key): which process
    /// holds a member, a lock entry or a claim.
    var ownerSession: String?

    init(_ record: Record) {
        key = record.key.path
        value = Data(record.value).base64EncodedString()
        version = record.version
        createRevision = record.createRevision
        modRevision = record.modRevision
        ephemeral = record.isEphemeral
        ownerSession = record.ownerSession
    }
}

/// One `kv watch` line (keys sorted): `{"records":[…],"type":"snapshot"}`, `{"record":{…},"type":"put"}`
/// or `{"key":"/a","type":"delete"}`.
struct WatchEventJSON: Encodable {
    var type: String
    var records: [RecordJSON]?
    var record: RecordJSON?
    var key: String?

    init(_ event: WatchEvent) {
        switch event {
        case .snapshot(let records):
            type = "snapshot"
            self.records = records.map(RecordJSON.init)
        case .put(let record):
            type = "put"
            self.record = RecordJSON(record)
        case .delete(let key):
            type = "delete"
            self.key = key.path
        }
    }
}

enum JSONLines {
    /// One compact JSON object, keys sorted, slashes unescaped.
    static func line(_ value: some Encodable) -> String {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        // Encoding these plain structs cannot fail.
        let data = (try? encoder.encode(value)) ?? Data("{}".utf8)
        return String(decoding: data, as: UTF8.self)
    }
}
