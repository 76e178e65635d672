import Synchronization

/// Waits at most a while for an answer, without waiting for the work that gives it to end: a
/// task group would, and a request to a store out of reach ends only at its time-out.
package enum FirstAnswer {
    /// `work`'s answer if it comes within `limit`, else `nil`; `work` runs on, its answer unused.
    package static func within<T: Sendable>(_ limit: Duration, _ work: @escaping @Sendable () async -> T) async -> T? {
        let answered = Once()
        return await withCheckedContinuation { continuation in
            // Each resumes the continuation only if it is first.
            Task {
                let value = await work()
                if answered.claim() { continuation.resume(returning: value) }
            }
            Task {
                try? await Task.sleep(for: limit)
                if answered.claim() { continuation.resume(returning: nil) }
            }
        }
    }

    /// Set once: the first to claim it answers.
    private final class Once: Sendable {
        private let claimed = Atomic<Bool>(false)
        func claim() -> Bool { !claimed.exchange(true, ordering: .acquiringAndReleasing) }
    }
}
