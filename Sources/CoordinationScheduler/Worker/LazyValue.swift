import Coordination
import Synchronization

/// A record's JSON value, decoded the first time it is asked for and kept from then on.
///
/// Decoding was most of a worker's CPU time under load: every worker decoded every version of
/// every run and state it was sent, though most versions are superseded, or belong to runs
/// another worker has claimed, before anyone looks at them.
final class LazyValue<Value: Decodable & Sendable>: Sendable {
    let record: Record
    /// `nil` until decoded; then the value, or `.some(nil)` when the record does not decode.
    private let decoded = Mutex<Value??>(nil)

    init(_ record: Record) { self.record = record }

    /// The decoded value; `nil` when the record does not hold a valid `Value`.
    var value: Value? {
        decoded.withLock { decoded in
            if let known = decoded { return known }
            let value = try? record.decoded(Value.self)
            decoded = .some(value)
            return value
        }
    }
}
