import Coordination
import Foundation
import Logging

/// The leader's removal of orphan incarnation keys (``SchedulerLayout/incarnation(of:tag:)``):
/// keys whose incarnation's record is gone. ``Scheduler/remove(_:)`` deletes a job's key only
/// when it can read the tag, so keys outlive jobs whose record did not decode, and jobs an
/// earlier coord rewrote without `fenced` (or removed). An orphan is not only clutter: a
/// writer that read the incarnation before its removal would pass the check of a key still
/// there, and land on a job added again under the id at the same version.
///
/// Deleting a key is safe once, after it was listed, the job's record is read and is absent or
/// holds another tag: that incarnation is dead for ever. The key and the record with its tag
/// are created in one transaction (``JobSubmission``), so the record existed when the key was
/// listed; a record is written with a tag only by that creation or by writes of a record read
/// with it (at its version, which fail once it is deleted), and a tag is drawn anew for every
/// incarnation, so it never comes back. (A record that lost its tag to a rewrite by a much
/// older coord is still the incarnation's, but its writes no longer check the key anyway.) A
/// record that does not decode tells nothing, and its key stays.
///
/// That holds of keys written by submission only. A copy made by `coord migrate` (keys in
/// order, `incarnations` before `jobs`) brings a key ahead of its record, and a leader already
/// running on the target would take it for an orphan: the job, its key gone, would then read
/// as being removed and never fire again (``UnfinishedRemovals``). So a key is deleted only
/// when two passes in a row, ``interval`` apart, find it orphan.
///
/// One pass lists all 64 buckets and reads the records only of keys the view does not show as
/// live, at leadership start and then at the first of the leader's passes ``interval`` after the
/// last, beside the leader's loop (``LeaderUpkeep``): orphans are rare, and harmless to a job
/// added by a current coord until a writer from before its removal comes late.
struct IncarnationKeySweep {
    let store: any CoordinationStore
    let layout: SchedulerLayout
    let logger: Logger

    /// Time between passes.
    static let interval: TimeInterval = 3600
    private var pacing = PassPacing(every: interval)
    /// The keys the last pass found orphan: this one deletes those it finds orphan again.
    private var suspects: Set<Key> = []

    init(store: any CoordinationStore, layout: SchedulerLayout, logger: Logger) {
        self.store = store
        self.layout = layout
        self.logger = logger
    }

    /// Whether a pass is due at `now`.
    func isDue(_ now: Date) -> Bool { pacing.isDue(now) }

    /// Deletes the keys found orphan again, when a pass is due. A pass cancelled before it
    /// judged every key deletes none.
    mutating func pass(view: SchedulerView, now: Date) async {
        guard pacing.begin(at: now) else { return }
        do {
            var orphans: [Key] = []
            for bucket in SchedulerLayout.bucketNames {
                let folder = try layout.incarnations.child(bucket)
                let names: [String]
                do { names = try await store.children(of: folder) } catch let error as CoordinationError where error.code == .noNode {
                    continue
                }
                for name in names {
                    // Another tool's name, or one no job can have (`.`): not a key of ours to judge.
                    guard let (tag, job) = Self.split(name), SchedulerLayout.bucket(of: job) == bucket,
                        let jobKey = try? layout.job(job), let key = try? folder.child(name)
                    else { continue }
                    // The view's record has the tag: live, whatever a read would add.
                    if view.state(of: job)?.state.incarnation == tag { continue }
                    if try await isOrphan(tag: tag, record: jobKey) { orphans.append(key) }
                }
            }
            // Only after every key was judged: a pass that stops halfway deletes nothing wrong.
            if Task.isCancelled { return }
            let confirmed = orphans.filter(suspects.contains)
            suspects = Set(orphans).subtracting(confirmed)
            for key in confirmed {
                do { try await store.delete(key, ifVersion: nil) } catch let error as CoordinationError where error.code == .noNode {}
            }
            if !confirmed.isEmpty {
                logger.info("orphan incarnation keys removed", metadata: ["keys": "\(confirmed.map(\.name))"])
            }
            logger.debug(
                "incarnation key sweep done", metadata: ["removed": "\(confirmed.count)", "suspected": "\(suspects.count)"])
        } catch {
            logger.warning("cannot sweep the incarnation keys", metadata: ["error": "\(error)"])
        }
    }

    /// Whether the job's record, read now (after its key was listed), is absent or holds another
    /// tag than `tag`.
    private func isOrphan(tag: String, record: Key) async throws -> Bool {
        guard let stored = try await store.get(record) else { return true }
        guard let record = try? stored.decoded(JobRecord.self) else { return false }
        return record.state.incarnation != tag
    }

    /// The tag and the job id of a key named `<tag>-<job>`; `nil` for any other name.
    static func split(_ name: String) -> (tag: String, job: String)? {
        let tag = name.prefix(JobIncarnation.length)
        let rest = name.dropFirst(JobIncarnation.length)
        guard tag.count == JobIncarnation.length, tag.allSatisfy(JobIncarnation.alphabet.contains), rest.first == "-", rest.count > 1
        else { return nil }
        return (String(tag), String(rest.dropFirst()))
    }
}
