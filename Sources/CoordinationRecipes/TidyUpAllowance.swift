import Synchronization

/// How long the tidy-up after giving up (a lock's entry removed, then whatever the caller tidies
/// next) waits for a store that does not answer, shared by all of its steps.
///
/// A server can go silent with its connection still open: requests are neither answered nor
/// failed until their own time-out. Each step of a tidy-up used to allow such a store a second
/// of its own, so `coord lock --timeout` spent one on the entry's removal and another on the
/// lock's key before it exited. One allowance shared by the steps bounds the whole tidy-up:
///
/// - The store counts as silent once it has answered none of the tidy-up's requests for
///   ``limit``, counted from the first step that waits, or from its last answer since (an
///   answer is any end of a request, failed or not). A store that answers, however slowly,
///   is never taken for silent, and every step is waited for as before.
/// - Once found silent (or noted silent by the caller, ``noteStoreSilent()``), no step waits
///   any more: each starts its requests and leaves them to go on by themselves.
///
/// One allowance is for one tidy-up: the steps that follow one another when giving up. A
/// later, separate tidy-up takes a fresh one.
public final class TidyUpAllowance: Sendable {
    /// How long the store may go without answering before it counts as silent.
    public let limit: Duration

    private struct State {
        /// Since when silence is counted: the first wait, or the last answer after it.
        var heard: ContinuousClock.Instant?
        var silent = false
    }
    private let state = Mutex(State())

    /// A second: far more than a request takes while the store answers, far less than a
    /// request's own time-out (10 s on etcd).
    public static let defaultLimit = Duration.seconds(1)

    /// - Parameter limit: how long the store may go without answering (``defaultLimit``).
    public init(limit: Duration = defaultLimit) {
        self.limit = limit
    }

    /// Whether a step has begun waiting: the tidy-up is under way, and it ends within the
    /// allowance once the store stops answering.
    package var hasBegun: Bool { state.withLock { $0.heard != nil } }

    /// Whether a step found the store silent (or the caller said so): later steps do not wait.
    public var storeFoundSilent: Bool { state.withLock { $0.silent } }

    /// Says the store is silent (a request of the caller's went unanswered, or contact is lost):
    /// no step of this tidy-up waits for it any more.
    public func noteStoreSilent() { state.withLock { $0.silent = true } }

    /// Runs `request`, counting its end, a result or an error, as an answer from the store.
    package func hearing<T>(_ request: () async throws -> T) async rethrows -> T {
        defer { state.withLock { $0.heard = .now } }
        return try await request()
    }

    /// `work`'s result if it comes while the store answers, else `nil` and `work` goes on by
    /// itself: at once when the store is known silent, or once it has gone ``limit`` without
    /// answering (then noted silent), or once `inContact` says contact is lost (noted too).
    /// `work` counts its requests' answers through ``hearing(_:)``.
    package func wait<T: Sendable>(
        for work: @escaping @Sendable () async -> T, inContact: @escaping @Sendable () -> Bool = { true }
    ) async -> T? {
        let task = Task { await work() }
        while true {
            let deadline: ContinuousClock.Instant? = state.withLock { state in
                if state.silent { return nil }
                let heard = state.heard ?? .now
                state.heard = heard
                return heard + limit
            }
            guard let deadline, inContact() else {
                noteStoreSilent()
                return nil
            }
            let now = ContinuousClock.now
            if deadline <= now {
                noteStoreSilent()
                return nil
            }
            // Woken at the deadline, or sooner to look at the contact again: an answer moves the
            // deadline, and contact lost ends the wait before it.
            if let value = await FirstAnswer.within(min(deadline - now, Self.contactCheck), { await task.value }) {
                return value
            }
        }
    }

    /// How often a wait looks at whether the store is still in contact.
    static let contactCheck = Duration.milliseconds(250)
}
