import Coordination
import Synchronization

/// Consumes a watch stream on its own task, applying every event to a dictionary, and lets a test
/// wait (event-driven, with a time limit) until that dictionary satisfies a condition.
final class WatchFollower: Sendable {
    private struct Waiter {
        let id: Int
        let condition: @Sendable ([Key: Record]) -> Bool
        let continuation: CheckedContinuation<Bool, Never>
    }
    private struct State {
        var records: [Key: Record] = [:]
        var snapshots = 0
        var events = 0
        var ended = false
        var waiters: [Waiter] = []
        var nextID = 0
    }
    private final class Shared: Sendable { let state = Mutex(State()) }
    private let shared = Shared()
    private let task: Mutex<Task<Void, Never>?> = Mutex(nil)

    init(_ stream: AsyncThrowingStream<WatchEvent, any Error>) {
        let started = Task { [shared] in
            do {
                for try await event in stream { WatchFollower.apply(event, to: shared) }
            } catch {}
            let waiters = shared.state.withLock { state in
                state.ended = true
                defer { state.waiters = [] }
                return state.waiters
            }
            for waiter in waiters { waiter.continuation.resume(returning: false) }
        }
        task.withLock { $0 = started }
    }

    deinit { task.withLock { $0?.cancel() } }

    func cancel() { task.withLock { $0?.cancel() } }

    private static func apply(_ event: WatchEvent, to shared: Shared) {
        let ready: [Waiter] = shared.state.withLock { state in
            state.records.apply(event)
            state.events += 1
            if case .snapshot = event { state.snapshots += 1 }
            let records = state.records
            let ready = state.waiters.filter { $0.condition(records) }
            state.waiters.removeAll { waiter in ready.contains { $0.id == waiter.id } }
            return ready
        }
        for waiter in ready { waiter.continuation.resume(returning: true) }
    }

    var records: [Key: Record] { shared.state.withLock { $0.records } }
    var snapshots: Int { shared.state.withLock { $0.snapshots } }

    /// Waits until the followed state satisfies `condition`.
    /// - Throws: `timeout` after `timeout`, or when the stream ended first.
    func wait(within timeout: Duration = .seconds(30), until condition: @escaping @Sendable ([Key: Record]) -> Bool) async throws {
        let id = shared.state.withLock { state -> Int in
            defer { state.nextID += 1 }
            return state.nextID
        }
        let limit = Task { [shared] in
            try? await Task.sleep(for: timeout)
            let expired = shared.state.withLock { state -> Waiter? in
                guard let index = state.waiters.firstIndex(where: { $0.id == id }) else { return nil }
                return state.waiters.remove(at: index)
            }
            expired?.continuation.resume(returning: false)
        }
        defer { limit.cancel() }
        let met = await withCheckedContinuation { (continuation: CheckedContinuation<Bool, Never>) in
            let immediate: Bool? = shared.state.withLock { state in
                if condition(state.records) { return true }
                if state.ended { return false }
                state.waiters.append(Waiter(id: id, condition: condition, continuation: continuation))
                return nil
            }
            if let immediate { continuation.resume(returning: immediate) }
        }
        guard met else {
            throw CoordinationError(.timeout, "the watch did not reach the expected state within \(timeout); it has \(records.count) records")
        }
    }
}
