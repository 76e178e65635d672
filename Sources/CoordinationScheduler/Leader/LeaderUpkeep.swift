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
        /// The latest call made while a pass was under way: what it found due starts once that
        /// pass ends. Dropped, a change that woke a quiet leader (a job unfenced by an earlier
        /// coord) waited for its next wake, an hour on, say.
        var deferred: (view: SchedulerView, now: Date)?
    }

    private let state: Mutex<State>

    init(keySweep: IncarnationKeySweep, fenceRestoration: FenceRestoration) {
        state = Mutex(State(keySweep: keySweep, fenceRestoration: fenceRestoration))
    }

    /// Starts the passes due at `now`, over `view`; while one is still under way, they start
    /// when it ends, over the latest such call's view.
    func startIfDue(view: SchedulerView, now: Date) {
        state.withLock { state in
            guard state.running == nil else {
                state.deferred = (view, now)
                return
            }
            start(&state, view: view, now: now)
        }
    }

    /// Starts the passes due at `now` in a task of their own, recorded in `state`. Called under the lock.
    private func start(_ state: inout State, view: SchedulerView, now: Date) {
        guard state.keySweep.isDue(now) || state.fenceRestoration.isDue(now) else { return }
        let (keySweep, fenceRestoration) = (state.keySweep, state.fenceRestoration)
        // Its end is recorded under the lock, which this assignment holds until it is made.
        state.running = Task { [self] in
            var keySweep = keySweep
            var fenceRestoration = fenceRestoration
            await keySweep.pass(view: view, now: now)
            await fenceRestoration.pass(view: view, now: now)
            let cancelled = Task.isCancelled
            self.state.withLock {
                $0.keySweep = keySweep
                $0.fenceRestoration = fenceRestoration
                $0.running = nil
                // Leadership ended (``stop()`` cancelled this pass): nothing more starts.
                guard let deferred = $0.deferred.take(), !cancelled else { return }
                start(&$0, view: deferred.view, now: deferred.now)
            }
        }
    }

    /// Cancels the pass under way, if any, and waits for it to end (when leadership ends).
    func stop() async {
        let running = state.withLock { state in
            state.deferred = nil
            return state.running
        }
        running?.cancel()
        await running?.value
    }

    /// Cancels the pass under way, if any, without waiting.
    func cancel() {
        state.withLock { state in
            state.deferred = nil
            state.running?.cancel()
        }
    }
}
