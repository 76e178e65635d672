/// One job record as a view saw it: which creation of the job's key (its `createRevision`), at
/// which version. The version alone cannot tell a job from one removed and added again under
/// the same id, whose record's version starts over at 0.
struct JobRecordRevision: Sendable, Hashable {
    let createRevision: Int64
    let version: Int64
}
