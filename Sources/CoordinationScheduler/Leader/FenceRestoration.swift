import Coordination
import Foundation
import Logging

/// The leader's restoring of `fenced` (``JobState/fenced``) in records an earlier coord wrote
/// back without it, during a rolling upgrade: such a coord keeps the tag but drops the field it
/// does not know, and every write from a read of the record then went unfenced
/// (``IncarnationFence``). The record's incarnation has its key when a current coord added it
/// (the key and the tagged record are created together): then the job is fenced again, by a
/// compare-and-set of the record as the view shows it, in a transaction that checks that key
/// first, so it cannot land on a job removed and added again under the id meanwhile:
/// ``Scheduler/remove(_:)`` deletes the key first, fenced record or not.
///
/// A record with a tag and no key was added by a version that drew tags but made no keys; a key
/// is only ever made with its job, so that incarnation is not read for again this leadership.
/// One pass over the view's jobs at leadership start and then at the first of the leader's
/// passes ``interval`` after the last, beside the leader's loop (``LeaderUpkeep``).
struct FenceRestoration {
    let store: any CoordinationStore
    let layout: SchedulerLayout
    let logger: Logger

    /// Time between passes.
    static let interval: TimeInterval = 60
    private var pacing = PassPacing(every: interval)
    /// Incarnations (`<tag>-<job>`) found without a key: they never get one.
    private var keyless: Set<String> = []

    init(store: any CoordinationStore, layout: SchedulerLayout, logger: Logger) {
        self.store = store
        self.layout = layout
        self.logger = logger
    }

    /// Whether a pass is due at `now`.
    func isDue(_ now: Date) -> Bool { pacing.isDue(now) }

    /// Fences again the unfenced jobs whose incarnation has its key, when a pass is due. A
    /// cancelled pass stops at the next job.
    mutating func pass(view: SchedulerView, now: Date) async {
        guard pacing.begin(at: now) else { return }
        for (id, spec) in view.specs {
            if Task.isCancelled { break }
            guard let (state, version) = view.state(of: id), !state.fenced, let tag = state.incarnation,
                !keyless.contains("\(tag)-\(id)")
            else { continue }
            do {
                let key = try layout.incarnation(of: id, tag: tag)
                guard try await store.exists(key) else {
                    keyless.insert("\(tag)-\(id)")
                    continue
                }
                let jobKey = try layout.job(id)
                // The record as the view shows it, so that nothing the earlier coord wrote is undone.
                guard let stored = try await store.get(jobKey), stored.version == version,
                    let record = try? stored.decoded(JobRecord.self), record.spec == spec, record.state == state
                else { continue }  // the view is behind: the watch brings it, and the next pass looks again
                var fenced = state
                fenced.fenced = true
                _ = try await store.transaction([
                    .check(key, version: nil),
                    .set(jobKey, value: try JobRecord(spec: spec, state: fenced).encoded(), ifVersion: version),
                ])
                logger.info("job fenced again (an earlier coord had written its record without it)", metadata: ["job": "\(id)"])
            } catch let error as CoordinationError where [.versionConflict, .noNode].contains(error.code) {
                // Changed or removed meanwhile: the next pass looks again at what the view shows then.
                logger.debug("job not fenced again", metadata: ["job": "\(id)", "reason": "\(error.message)"])
            } catch {
                logger.warning("cannot fence a job again", metadata: ["job": "\(id)", "error": "\(error)"])
            }
        }
    }
}
