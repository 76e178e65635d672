import Coordination
import Foundation
import Synchronization

/// The job incarnations the leader found being removed: a fenced record whose incarnation key
/// is gone (``Scheduler/remove(_:)`` deletes it first, and may have stopped right after). Every
/// write of such a record is refused (``IncarnationFence``) while the key is missing, so the
/// leader leaves the job alone, with no fire times, broadcast remainders or placement, rather
/// than trying again at every change it sees. It learns of one from a refused write, confirmed
/// by a read of the key.
///
/// The leader does not finish such a removal itself: what is left to delete (the record, the
/// runs beneath it, the history) can no longer be tied to the incarnation. Its key, the only
/// thing a transaction could check, is gone; a job added again under the id starts over at the
/// same versions, which is all a transaction compares; and recursive deletes are not
/// transactional. A `coord job rm` finishing the same removal and adding the job again
/// meanwhile would lose the new job to the leader's late deletions. `coord job list` and
/// `coord job show` say such a removal is unfinished, and `coord job rm` finishes it.
///
/// A job is left alone for ``ClaimQueue/removalRecheckDelay`` at a time, then written again:
/// `coord migrate --follow` may copy a job's record before its key, which then arrives later.
///
/// A reference, so that it lasts as long as its ``LeaderDuties`` (one leadership) without
/// being passed through each duty.
final class UnfinishedRemovals: Sendable {
    private struct Noted {
        let fence: IncarnationFence
        let recheckAt: Date
    }

    /// By job id.
    private let fences = Mutex<[String: Noted]>([:])

    /// Whether the job, in `state`, is one whose removal is under way.
    func contains(job id: String, state: JobState, layout: SchedulerLayout) -> Bool {
        // Asked for every job on every pass, and almost never noted: no fence (a key) is made
        // for a job that is not. A noted fence always has a key.
        guard let noted = fences.withLock({ $0[id] }) else { return false }
        return (try? IncarnationFence(job: id, state: state, layout: layout)) == noted.fence
    }

    /// Notes the job (as read, in `state`) as being removed when `error`, from a write that
    /// starts with its fence's checks, is their refusal and its key is indeed gone. A read
    /// confirms it, since some writes put other operations first (a cancel's own run), whose
    /// `noNode` at the same index means something else. Returns whether it was noted.
    @discardableResult
    func note(
        _ error: any Error, job id: String, state: JobState, store: any CoordinationStore, layout: SchedulerLayout, now: Date
    ) async -> Bool {
        guard let error = error as? CoordinationError, error.code == .noNode,
            let fence = try? IncarnationFence(job: id, state: state, layout: layout), fence.refused(error),
            let key = fence.key, (try? await store.exists(key)) == false
        else { return false }
        note(job: id, fence, now: now)
        return true
    }

    /// Notes the job's incarnation `fence` (its key is known to be gone) at `now`.
    func note(job id: String, _ fence: IncarnationFence, now: Date) {
        guard fence.key != nil else { return }
        fences.withLock { $0[id] = Noted(fence: fence, recheckAt: now.addingTimeInterval(ClaimQueue.removalRecheckDelay)) }
    }

    /// Forgets the incarnations the view no longer shows (their removal went on), and those due
    /// a recheck at `now` (or noted more than a delay after `now`: the clock stepped back).
    func keepOnly(shownBy view: SchedulerView, layout: SchedulerLayout, now: Date) {
        let latest = now.addingTimeInterval(ClaimQueue.removalRecheckDelay)
        fences.withLock { fences in
            fences = fences.filter { id, noted in
                noted.recheckAt > now && noted.recheckAt <= latest
                    && view.state(of: id).flatMap { try? IncarnationFence(job: id, state: $0.state, layout: layout) } == noted.fence
            }
        }
    }

    /// When the next recheck is due, for the leader's wake: asked after the pass's writes, since
    /// a job noted by one of them has nothing else to wake the leader for its recheck.
    var nextRecheck: Date? { fences.withLock { $0.values.lazy.map(\.recheckAt).min() } }
}
