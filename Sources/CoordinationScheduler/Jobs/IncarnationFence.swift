import Coordination

/// The fence of every write of a job's record made from a read of it: a check that the
/// incarnation read (``JobState/incarnation``) still stands, by its key
/// (``SchedulerLayout/incarnation(of:tag:)``), created with the job and deleted with it.
///
/// A record's version starts over at 0 when the job is added again under its id, so a
/// compare-and-set at the version read cannot tell the job read from one removed and added again
/// meanwhile: the old record (definition, state, tag) was written over the new job. Transactions
/// compare versions only (ZooKeeper's multi has no check of a key's creation), so the
/// incarnation is a key of its own, whose name holds the tag: once removed it never exists again.
///
/// The check goes first in the transaction, so that its refusal is told by its index: ``refused(_:)``.
struct IncarnationFence: Sendable, Hashable {
    /// The incarnation's key; `nil` for a job added by an earlier version, which has none (its
    /// writes go unfenced, as they did).
    let key: Key?

    init(job id: String, state: JobState, layout: SchedulerLayout) throws(CoordinationError) {
        if state.fenced, let tag = state.incarnation {
            key = try layout.incarnation(of: id, tag: tag)
        } else {
            key = nil
        }
    }

    /// The operations to put first in a transaction that writes the record read: they fail it
    /// with `noNode` once that incarnation is removed, even when the job is added again.
    var checks: [Coordination.Operation] { key.map { [.check($0, version: nil)] } ?? [] }

    /// The key's creation, in the transaction that adds the job.
    var creations: [Coordination.Operation] { key.map { [.create($0, value: [], mode: .persistent)] } ?? [] }

    /// Whether `error`, from a transaction that starts with ``checks``, is their refusal: the
    /// incarnation read is removed (perhaps added again since, as another).
    func refused(_ error: CoordinationError) -> Bool {
        key != nil && error.code == .noNode && error.failedOperation == 0
    }
}
