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
    /// - Throws: a decoding error when the stored value is not a valid `Value`.
    public func current() async throws -> Value? {
        guard let record = try await store.get(key) else { return nil }
        return try JSONDecoder().decode(Value.self, from: Data(record.value))
    }

    /// The value as it changes: the current value first (`nil` while the key is absent), then each
    /// new good value. Bad values are skipped with a warning; duplicates are not repeated.
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
                            let value = try JSONDecoder().decode(Value.self, from: Data(record.value))
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
