import Coordination
import CoordinationTestSupport
import Synchronization

/// Wraps a store so that just before its first `set`, the key is deleted and made again (an
/// ephemeral key of `base`'s session holding `value`): a member that left and a new member
/// joining under the same id, both between an update's read and its write.
final class RejoinedBeforeSetStore: ForwardingStore {
    let base: any CoordinationStore
    private let value: [UInt8]
    private let rejoined = Atomic<Bool>(false)

    init(_ base: any CoordinationStore, rejoiningWith value: [UInt8]) {
        self.base = base
        self.value = value
    }

    func set(_ key: Key, value: [UInt8], ifVersion: Int64?) async throws -> Record {
        if !rejoined.exchange(true, ordering: .sequentiallyConsistent) {
            try await base.delete(key, ifVersion: nil, recursive: false)
            _ = try await base.create(key, value: self.value, mode: .ephemeral)
        }
        return try await base.set(key, value: value, ifVersion: ifVersion)
    }
}
