public import Coordination
public import Logging
import Foundation

/// A typed configuration value kept in one key as JSON, followed live.
///
/// A value that does not decode is not passed on: the last good value stays in force, and the
/// log says which revision was rejected and why.
public struct ConfigWatch<Value: Codable & Sendable & Equatable>: Sendable {
    public let store: any CoordinationStore
    public let key: Key
    let logger: Logger

    public init(store: any CoordinationStore, key: Key, as type: Value.Type = Value.self, logger: Logger = Logger(label: "coordination.config")) {
        self.store = store
        self.key = key
        self.logger = logger
    }

    /// Writes `value` as JSON (creating the key if needed).
    @discardableResult
    public func publish(_ value: Value) async throws -> Record {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys]
        return try await store.put(key, value: Array(try encoder.encode(value)))
    }

    /// The value now, `nil` when the key is absent.
    /// - Throws: a `DecodingError` when the stored value is not a valid `Value`; its description
    ///   names the key and the revision of the value.
    public func current() async throws -> Value? {
        guard let record = try await store.get(key) else { return nil }
        return try Self.decode(record)
    }

    /// `record`'s value as a `Value`. A `DecodingError` alone names neither the key nor the write
    /// it came from, and the reader could not tell which value to fix.
    static func decode(_ record: Record) throws -> Value {
        do {
            return try JSONDecoder().decode(Value.self, from: Data(record.value))
        } catch let error as DecodingError {
            throw error.explained(
                "the value of \(record.key) (written at revision \(record.modRevision)) is not a valid \(Value.self) "
                    + "in JSON; publish a valid one")
        }
    }

    /// The value as it changes: the current value first (`nil` while the key is absent), then each
    /// new good value. Bad values are skipped with a warning; duplicates are not repeated. A
    /// current value that does not decode is not said: the first value is then the first good one.
    public func values() -> AsyncThrowingStream<Value?, any Error> {
        let store = store
        let key = key
        let logger = logger
        return AsyncThrowingStream { continuation in
            let task = Task {
                do {
                    var last: Value?? = .none
                    func offer(_ record: Record?) {
                        guard let record else {
                            if last != .some(nil) { last = .some(nil); continuation.yield(nil) }
                            return
                        }
                        do {
                            let value = try Self.decode(record)
                            if last != .some(value) { last = .some(value); continuation.yield(value) }
                        } catch {
                            logger.warning(
                                "ignoring a configuration value that does not decode; keeping the last good one",
                                metadata: ["key": "\(key)", "modRevision": "\(record.modRevision)", "error": "\(error)"])
                        }
                    }
                    for try await event in store.watch(key, scope: .key) {
                        switch event {
                        case .snapshot(let records): offer(records.first)
                        case .put(let record): offer(record)
                        case .delete: offer(nil)
                        }
                    }
                    continuation.finish()
                } catch {
                    continuation.finish(throwing: error)
                }
            }
            continuation.onTermination = { _ in task.cancel() }
        }
    }
}

private extension DecodingError {
    /// The same error with `why` before its own description.
    func explained(_ why: String) -> DecodingError {
        func with(_ context: Context) -> Context {
            Context(codingPath: context.codingPath, debugDescription: "\(why): \(context.debugDescription)", underlyingError: context.underlyingError)
        }
        switch self {
        case .typeMismatch(let type, let context): return .typeMismatch(type, with(context))
        case .valueNotFound(let type, let context): return .valueNotFound(type, with(context))
        case .keyNotFound(let key, let context): return .keyNotFound(key, with(context))
        case .dataCorrupted(let context): return .dataCorrupted(with(context))
        @unknown default: return self
        }
    }
}
