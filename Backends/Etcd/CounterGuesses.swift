import Coordination
import Synchronization

/// A sequential parent's counter: the next number, and the counter key's mod revision (0 when
/// absent), which a txn compares to know the number is still right.
struct CounterGuess: Sendable, Equatable {
    var next: Int64
    var modRevision: Int64

    static let absent = CounterGuess(next: 0, modRevision: 0)
}

/// The counters this handle last read or wrote, so a transaction with a sequential create can
/// name its key without reading first. A wrong guess (another handle created meanwhile, the
/// parent was forgotten) costs nothing but the fast path: the txn's compare fails and the
/// transaction goes the two-request way. Bounded: past `capacity` parents an arbitrary one is
/// forgotten.
final class CounterGuesses: Sendable {
    private struct Seen {
        var guess: CounterGuess
        /// The revision the counter was read or written at: an older sighting never replaces a newer one.
        var revision: Int64
    }

    private let seen = Mutex<[Key: Seen]>([:])
    let capacity: Int

    init(capacity: Int = 4096) {
        self.capacity = max(1, capacity)
    }

    /// The last counter seen for `parent`, or an absent one.
    func guess(for parent: Key) -> CounterGuess {
        seen.withLock { $0[parent]?.guess } ?? .absent
    }

    /// Notes counters as read or written at `revision`.
    func remember(_ counters: [(parent: Key, guess: CounterGuess)], at revision: Int64) {
        guard !counters.isEmpty else { return }
        seen.withLock { seen in
            for (parent, guess) in counters {
                if let known = seen[parent] {
                    if known.revision > revision { continue }
                } else if seen.count >= capacity, let any = seen.keys.first {
                    seen.removeValue(forKey: any)
                }
                seen[parent] = Seen(guess: guess, revision: revision)
            }
        }
    }
}
