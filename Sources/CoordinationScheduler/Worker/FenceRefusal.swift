import Coordination

extension CoordinationError {
    /// Whether one of a transaction's first `count` operations (the checks and writes that
    /// fence a run) refused it because a key changed or went. Lost contact or a time-out is no
    /// refusal: the outcome is unknown, and giving up would leave a claim nobody works on.
    func isFenceRefusal(within count: Int) -> Bool {
        (code == .versionConflict || code == .noNode) && (failedOperation ?? count) < count
    }
}
