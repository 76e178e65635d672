import Coordination
import Synchronization

/// Test seam: holds one round of a watch stream's re-reads (its reads and listings, sent together
/// by ``ZooKeeperStore/watchDataAndChildren(reading:listing:_:)``) before it is sent, until the
/// test releases it, so that writes made meanwhile land between what the watcher was told and what
/// it reads next: the interleavings its ordering rules exist for, which a real server otherwise
/// gives only by chance.
///
/// Unarmed, a round costs one relaxed atomic load here.
final class WatchRoundHold: Sendable {
    private enum Phase {
        case idle
        /// Waiting for a round that `matches`; `arrival` is a test waiting for it to be held.
        case armed(matches: @Sendable (_ reads: [Key], _ lists: [Key]) -> Bool, arrival: CheckedContinuation<Void, Never>?)
        /// A round waits in `parked` for the release.
        case held(parked: CheckedContinuation<Void, Never>)
    }

    private let isArmed = Atomic<Bool>(false)
    private let phase = Mutex(Phase.idle)

    /// Holds the next round whose sorted znodes to read and to list `matches` (one round, once).
    func holdNextRound(where matches: @escaping @Sendable (_ reads: [Key], _ lists: [Key]) -> Bool) {
        phase.withLock { phase in
            precondition(!isHolding(phase), "a round is held already")
            phase = .armed(matches: matches, arrival: nil)
        }
        isArmed.store(true, ordering: .releasing)
    }

    /// Returns once the round asked for is held (at once if it is, or if none is asked for), or
    /// when the waiting task is cancelled.
    func held() async {
        await withTaskCancellationHandler {
            await withCheckedContinuation { (arrival: CheckedContinuation<Void, Never>) in
                let now: Bool = phase.withLock { phase in
                    guard !Task.isCancelled, case .armed(let matches, nil) = phase else { return true }
                    phase = .armed(matches: matches, arrival: arrival)
                    return false
                }
                if now { arrival.resume() }
            }
        } onCancel: {
            let arrival: CheckedContinuation<Void, Never>? = phase.withLock { phase in
                guard case .armed(let matches, let arrival?) = phase else { return nil }
                phase = .armed(matches: matches, arrival: nil)
                return arrival
            }
            arrival?.resume()
        }
    }

    /// Lets the held round go (and disarms the hold if no round was held yet).
    func release() {
        isArmed.store(false, ordering: .releasing)
        let taken: (parked: CheckedContinuation<Void, Never>?, arrival: CheckedContinuation<Void, Never>?) = phase.withLock { phase in
            defer { phase = .idle }
            switch phase {
            case .idle: return (nil, nil)
            case .armed(_, let arrival): return (nil, arrival)
            case .held(let parked): return (parked, nil)
            }
        }
        taken.parked?.resume()
        taken.arrival?.resume()
    }

    /// Called before each round is sent: waits while a test holds it.
    func pass(reading reads: [Key], listing lists: [Key]) async {
        guard isArmed.load(ordering: .acquiring) else { return }
        await withCheckedContinuation { (parked: CheckedContinuation<Void, Never>) in
            let outcome: (hold: Bool, arrival: CheckedContinuation<Void, Never>?) = phase.withLock { phase in
                guard case .armed(let matches, let arrival) = phase, matches(reads, lists) else { return (false, nil) }
                phase = .held(parked: parked)
                return (true, arrival)
            }
            if outcome.hold {
                outcome.arrival?.resume()
            } else {
                parked.resume()
            }
        }
    }

    private func isHolding(_ phase: Phase) -> Bool {
        if case .idle = phase { return false }
        return true
    }
}
