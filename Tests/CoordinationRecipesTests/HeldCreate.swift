import Coordination
import Synchronization
import Testing

/// A create a fault store holds back: answered `connectionLoss` (its outcome unknown to the
/// caller) and applied only when the test calls ``land(in:)``, after later ones, as a server may
/// apply a create whose reply was lost.
final class HeldCreate: Sendable {
    private let create = Mutex<(key: Key, value: [UInt8], mode: CreateMode)?>(nil)

    /// Holds the create back, throwing the lost reply its caller sees.
    func hold(_ key: Key, value: [UInt8], mode: CreateMode) throws -> Never {
        create.withLock { $0 = (key, value, mode) }
        throw CoordinationError(.connectionLoss, "reply lost (simulated); the create is applied later", key: key)
    }

    /// Applies the create held back.
    func land(in base: any CoordinationStore) async throws -> Record {
        let held = try #require(create.withLock { $0 }, "a create was held back")
        return try await base.create(held.key, value: held.value, mode: held.mode)
    }
}

/// Lands the create a fault store held back (`land`) and expects the entry it makes removed as
/// it appears, the next contender then let in at once.
func expectLateEntryRemoved(
    landing land: () async throws -> Record, observer: any CoordinationStore, path: Key, kind: QueueLock = .lock,
    sourceLocation: SourceLocation = #_sourceLocation
) async throws {
    let stray = try await land()
    try await waitForEntries(observer, path, "the late entry \(stray.key.name) to be removed") { $0.isEmpty }
    let next = try await kind.acquire(observer, path, timeout: .zero)
    #expect(next != nil, "the next contender is let in at once", sourceLocation: sourceLocation)
    try await next?.release()
}
