import Foundation
import Synchronization

/// The leader's occasional passes over the incarnation keys (``IncarnationKeySweep``,
/// ``FenceRestoration``), made beside its loop rather than in it. Their reads go one after
/// another (all 64 buckets; every job an earlier version added, at each leadership start), and
/// made in the loop they held up every fire time, placement and wake until they were over: a
/// `skip` job's fire time due meanwhile was skipped.
///
/// One pass at a time, each over the view it was started with. Both judge nothing by that view
/// alone: each write is a compare-and-set of a record read again, or a deletion of a key found
/// orphan by a read after its listing, so a view that moved on meanwhile costs a skipped job.
///
/// A reference, so that the passes' state (when each is due, the jobs found without a key)
/// outlives the task each pass runs in.
final class LeaderUpkeep: Sendable {
    private struct State: Sendable {
        var keySweep: IncarnationKeySweep
        var fenceRestoration: FenceRestoration
        /// The pass under way, if any.
        var running: Task<Void, Never>?
    }

    private let state: Mutex<State>

    init(keySweep: IncarnationKeySweep, fenceRestoration: FenceRestoration) {
        state = Mutex(State(keySweep: keySweep, fenceRestoration: fenceRestoration))
    }

    /// Starts the passes due at `now`, over `view`, unless one is still under way (the next
    /// call after it ends starts them then).
    func startIfDue(view: SchedulerView, now: Date) {
        state.withLock { state in
            guard state.running == nil, state.keySweep.isDue(now) || state.fenceRestoration.isDue(now) else { return }
            let (keySweep, fenceRestoration) = (state.keySweep, state.fenceRestoration)
            // Its end is recorded under the lock, which this assignment holds until it is made.
            state.running = Task { [self] in
                var keySweep = keySweep
                var fenceRestoration = fenceRestoration
                await keySweep.pass(view: view, now: now)
                await fenceRestoration.pass(view: view, now: now)
                self.state.withLock {
                    $0.keySweep = keySweep
                    $0.fenceRestoration = fenceRestoration
                    $0.running = nil
                }
            }
        }
    }

    /// Cancels the pass under way, if any, and waits for it to end (when leadership ends).
    func stop() async {
        let running = state.withLock { $0.running }
        running?.cancel()
        await running?.value
    }

    /// Cancels the pass under way, if any, without waiting.
    func cancel() {
        state.withLock { $0.running?.cancel() }
    }
}
