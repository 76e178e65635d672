import Synchronization

/// The sessions in which creates of a caller's joins may still land (their replies lost; even
/// one whose join found an entry of the marker, which may be an earlier join's), noted for a
/// caller whose joins all carry one marker
/// (``LeaderElection/lead(_:)``): it can only have them removed as they appear once no join
/// carries the marker any more.
final class UnresolvedCreates: Sendable {
    private let noted = Mutex<Set<String>>([])

    func note(_ sessions: some Sequence<String>) {
        noted.withLock { $0.formUnion(sessions) }
    }

    var sessions: Set<String> { noted.withLock { $0 } }
}
