/// Whether a worker watches only its share of the buckets (``BucketShare``) or every bucket, to
/// help: a plain state machine, fed by the claiming loop.
///
/// A share is what lets many workers claim short jobs fast, but a worker that sees only its own
/// buckets cannot take work queued in the others': with long jobs, the workers whose buckets
/// emptied first would sit idle beside a backlog. So a worker with a free slot and nothing to
/// claim for ``widenAfterIdle`` watches everything, as every worker once did, and goes back to
/// its share after a backlog (every slot busy, or runs ready that it has no slot for) lasting
/// ``narrowAfterBacklog``. Each switch costs a fresh snapshot of what is then watched, hence the
/// two different delays: a worker switches at most about once per their sum.
struct ShareMode: Sendable {
    static let widenAfterIdle = Duration.seconds(2)
    static let narrowAfterBacklog = Duration.seconds(5)

    /// Watching every bucket to help.
    private(set) var helping = false
    /// Since when the worker has been idle (not helping) or under a backlog (helping).
    private var since: ContinuousClock.Instant?

    /// Notes whether the worker is busy now; returns when to look again, if a switch is due then.
    mutating func note(busy: Bool, now: ContinuousClock.Instant) -> ContinuousClock.Instant? {
        // What would make us switch: idle while on our share, busy while helping.
        let leaning = helping ? busy : !busy
        guard leaning else {
            since = nil
            return nil
        }
        let start = since ?? now
        since = start
        let due = start + (helping ? Self.narrowAfterBacklog : Self.widenAfterIdle)
        guard now >= due else { return due }
        helping.toggle()
        since = nil
        return nil
    }
}
