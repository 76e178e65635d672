import Coordination
import Synchronization

/// One caller at a time per key, first come first served, among the callers of one handle.
///
/// Sequential creates under one parent race for its counter with a compare-and-set: of N
/// concurrent creates only one wins each round, and the others read and try again, so N callers
/// of one handle cost about N² requests (50 lock waiters queueing at once took seconds on a busy
/// machine). Taking turns per parent within the handle makes it 2N; only other handles can still
/// make a create try again.
final class KeyedTurns: Sendable {
    /// Keys whose turn is taken, with the callers waiting for it in order of arrival.
    private let lines = Mutex<[Key: [CheckedContinuation<Void, Never>]]>([:])

    /// Runs `body` when it is this caller's turn for `key`. Waiting is not cut short by
    /// cancellation, as the store's requests are not.
    func withTurn<T, Failure: Error>(_ key: Key, _ body: () async throws(Failure) -> T) async throws(Failure) -> T {
        await take(key)
        defer { pass(key) }
        return try await body()
    }

    private func take(_ key: Key) async {
        await withCheckedContinuation { (continuation: CheckedContinuation<Void, Never>) in
            let free = lines.withLock { lines -> Bool in
                guard lines[key] != nil else {
                    lines[key] = []
                    return true
                }
                lines[key]!.append(continuation)
                return false
            }
            if free { continuation.resume() }
        }
    }

    private func pass(_ key: Key) {
        let next = lines.withLock { lines -> CheckedContinuation<Void, Never>? in
            guard var waiting = lines[key], !waiting.isEmpty else {
                lines[key] = nil
                return nil
            }
            let first = waiting.removeFirst()
            lines[key] = waiting
            return first
        }
        next?.resume()
    }
}
