import Coordination
import CoordinationTestSupport

/// Reports the session `stale` (the one that has just ended) until a create has gone through,
/// as an etcd handle does when the create is what finds its revoked lease gone and gets a new one.
/// With `firstCreateLandsTwice`, that first create also lands a second time: a create of the join
/// the session changed under, whose reply was lost, landing late beside the one that answered.
final class LateSessionStore: ForwardingStore {
    let base: any CoordinationStore
    private let stale: Shared<SessionEvent?>
    private let firstCreateLandsTwice: Bool

    init(_ base: any CoordinationStore, stale: SessionEvent, firstCreateLandsTwice: Bool = false) {
        self.base = base
        self.stale = Shared(stale)
        self.firstCreateLandsTwice = firstCreateLandsTwice
    }

    var session: SessionEvent { stale.withLock { $0 } ?? base.session }

    func create(_ key: Key, value: [UInt8], mode: CreateMode) async throws -> Record {
        let record = try await base.create(key, value: value, mode: mode)
        if firstCreateLandsTwice, stale.withLock({ $0 }) != nil {
            _ = try await base.create(key, value: value, mode: mode)
        }
        stale.withLock { $0 = nil }
        return record
    }
}
