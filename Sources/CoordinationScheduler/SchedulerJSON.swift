import Coordination
import Foundation

/// The one JSON encoding of everything the scheduler stores: sorted keys (stable bytes), dates as
/// epoch milliseconds (exact, portable), so the CLI and other languages can read it.
enum SchedulerJSON {
    static func encode<T: Encodable>(_ value: T) throws -> [UInt8] {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys]
        encoder.dateEncodingStrategy = .millisecondsSince1970
        return Array(try encoder.encode(value))
    }

    static func decode<T: Decodable>(_ type: T.Type, from bytes: [UInt8], key: Key) throws(CoordinationError) -> T {
        let decoder = JSONDecoder()
        decoder.dateDecodingStrategy = .millisecondsSince1970
        do {
            return try decoder.decode(type, from: Data(bytes))
        } catch {
            throw CoordinationError(.invalidConfiguration, "\(key) does not hold a valid \(T.self): \(error)", key: key)
        }
    }
}

extension Record {
    func decoded<T: Decodable>(_ type: T.Type) throws(CoordinationError) -> T {
        try SchedulerJSON.decode(type, from: value, key: key)
    }
}
