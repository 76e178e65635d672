import Coordination

/// A store that passes everything to `base`: test wrappers conform and implement only the
/// requirements they change (losing a reply, counting events…).
public protocol ForwardingStore: CoordinationStore {
    var base: any CoordinationStore { get }
}

extension ForwardingStore {
    public var namespace: Key { base.namespace }
    public var session: SessionEvent { base.session }
    public func get(_ key: Key) async throws -> Record? { try await base.get(key) }
    public func exists(_ key: Key) async throws -> Bool { try await base.exists(key) }
    public func create(_ key: Key, value: [UInt8], mode: CreateMode) async throws -> Record {
        try await base.create(key, value: value, mode: mode)
    }
    public func set(_ key: Key, value: [UInt8], ifVersion: Int64?) async throws -> Record {
        try await base.set(key, value: value, ifVersion: ifVersion)
    }
    public func delete(_ key: Key, ifVersion: Int64?, recursive: Bool) async throws {
        try await base.delete(key, ifVersion: ifVersion, recursive: recursive)
    }
    public func children(of key: Key) async throws -> [String] { try await base.children(of: key) }
    public func walk(_ key: Key) -> AsyncThrowingStream<Record, any Error> { base.walk(key) }
    public func transaction(_ operations: [Operation]) async throws -> [OperationResult] {
        try await base.transaction(operations)
    }
    public func watch(_ key: Key, scope: WatchScope) -> AsyncThrowingStream<WatchEvent, any Error> {
        base.watch(key, scope: scope)
    }
    public func sessionEvents() -> AsyncStream<SessionEvent> { base.sessionEvents() }
    public func close() async { await base.close() }
}

extension ForwardingStore {
    /// `base`'s watch of `key`, opened only once `before` has returned (its error ends the
    /// stream): for wrappers that make the store change between a read and the watch that
    /// follows it, as a real server allows.
    public func baseWatch(
        _ key: Key, scope: WatchScope, after before: @escaping @Sendable () async throws -> Void
    ) -> AsyncThrowingStream<WatchEvent, any Error> {
        let base = base
        let (stream, continuation) = AsyncThrowingStream.makeStream(of: WatchEvent.self)
        let task = Task {
            do {
                try await before()
                for try await event in base.watch(key, scope: scope) { continuation.yield(event) }
                continuation.finish()
            } catch {
                continuation.finish(throwing: error)
            }
        }
        continuation.onTermination = { _ in task.cancel() }
        return stream
    }
}
