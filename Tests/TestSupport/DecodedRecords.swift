import Coordination
import Foundation

/// A folder's records decoded as `Value`, kept current from watch events the way
/// `Dictionary<Key, Record>.apply(_:)` keeps raw records: a snapshot replaces everything, a put
/// sets one key, a delete removes it. Records that do not decode (folder keys) are left out.
public struct DecodedRecords<Value: Decodable & Sendable>: Sendable {
    public private(set) var values: [Key: Value] = [:]
    private let decode: @Sendable ([UInt8]) -> Value?

    public init(decode: @escaping @Sendable ([UInt8]) -> Value? = { bytes in
        bytes.isEmpty ? nil : try? JSONDecoder().decode(Value.self, from: Data(bytes))
    }) {
        self.decode = decode
    }

    public mutating func apply(_ event: WatchEvent) {
        switch event {
        case .snapshot(let records):
            values = [:]
            for record in records { values[record.key] = decode(record.value) }
        case .put(let record):
            values[record.key] = decode(record.value)
        case .delete(let key):
            values[key] = nil
        }
    }
}
