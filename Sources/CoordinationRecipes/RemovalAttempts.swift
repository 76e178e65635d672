import Synchronization

/// The attempts of a removal retried through store errors, so that a caller waiting for it can
/// tell a store that answers (each attempt ends, failed or not, and the next is made) from one
/// gone silent (an attempt that gets no answer at all).
final class RemovalAttempts: Sendable {
    /// When the attempt waiting for its answer began; `nil` between attempts.
    private let pending = Mutex<ContinuousClock.Instant?>(nil)

    /// `removal`, each run of it watched.
    func watching(_ removal: @escaping @Sendable () async throws -> Void) -> @Sendable () async throws -> Void {
        { [self] in
            pending.withLock { $0 = .now }
            defer { pending.withLock { $0 = nil } }
            try await removal()
        }
    }

    /// How long the attempt in progress has waited for its answer (zero between attempts).
    var unanswered: Duration { pending.withLock { $0 }.map { $0.duration(to: .now) } ?? .zero }
}
