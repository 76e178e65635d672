import Coordination
import CoordinationScheduler

extension CommandContext {
    /// For a listing of the scheduler's data that came out empty: when the namespace has no
    /// scheduler root at all, the note to print on stderr after the (empty) output, since an
    /// empty table alone does not tell "no jobs yet" from a mistyped namespace or store URL.
    /// `nil` when the root is there. Reads only: stdout and the exit status stay as they are,
    /// for the scripts that read them.
    ///
    /// Always `nil` on memory://, whose store always starts empty and has a note of its own
    /// (``memoryNote``).
    func absentSchedulerRootNote(of scheduler: Scheduler) async throws -> String? {
        guard storeURL.scheme != "memory", try await !scheduler.store.exists(scheduler.layout.root) else { return nil }
        return Self.absentSchedulerRootNote(root: scheduler.layout.root, in: storeURL)
    }

    /// The note of ``absentSchedulerRootNote(of:)``: the namespace, the root it lacks, and the fix.
    static func absentSchedulerRootNote(root: Key, in url: StoreURL) -> String {
        "coord: note: namespace \(url.namespace.path) of \(url) has no scheduler root \(root.path): "
            + "nothing was ever scheduled there; check the spelling of the store URL"
    }
}
