import Coordination
import CoordinationTestSupport

/// Passes a worker's store through, and fires `sawAll` once the worker's watch of the members
/// has shown `expected` of them: from then on its view places work among them all (each claims
/// from its share of the job buckets, ``ExactlyOnceTests``), rather than among those that had
/// joined when it looked.
final class MembershipSightStore: ForwardingStore {
    let base: any CoordinationStore
    let members: Key
    let expected: Int
    let sawAll = Signal()

    init(_ base: any CoordinationStore, members: Key, expected: Int) {
        self.base = base
        self.members = members
        self.expected = expected
    }

    func watch(_ key: Key, scope: WatchScope) -> AsyncThrowingStream<WatchEvent, any Error> {
        guard key == members else { return base.watch(key, scope: scope) }
        let (stream, continuation) = AsyncThrowingStream.makeStream(of: WatchEvent.self)
        let task = Task { [base, expected, sawAll] in
            var seen: [Key: Record] = [:]
            do {
                for try await event in base.watch(key, scope: scope) {
                    continuation.yield(event)
                    seen.apply(event)
                    if seen.keys.count(where: { $0.parent == key }) >= expected { sawAll.fire() }
                }
                continuation.finish()
            } catch {
                continuation.finish(throwing: error)
            }
        }
        continuation.onTermination = { _ in task.cancel() }
        return stream
    }
}
