/// Whether a worker watches only its share of the buckets (``BucketShare``) or every bucket, to
/// help: a plain state machine, fed by the claiming loop.
///
/// A share is what lets many workers claim short jobs fast, but a worker that sees only its own
/// buckets cannot take work queued in the others': with long jobs, the workers whose buckets
/// emptied first would sit idle beside a backlog. So a worker with a free slot and nothing to
/// claim for ``widenAfterIdle`` (``Worker/Configuration/helpAfterIdle``) watches everything, as
/// every worker once did, and goes back to its share once every slot has been busy for
/// ``narrowAfterBacklog`` (it could take no more anyway; the buckets of its runs stay watched). Each switch costs a fresh snapshot of what is
/// then watched, hence the delays: a worker switches at most about once per their sum.
struct ShareMode: Sendable {
    static let defaultWidenAfterIdle = Worker.Configuration.defaultHelpAfterIdle
    static let narrowAfterBacklog = Duration.seconds(5)
    /// `nil`: never widens.
    let widenAfterIdle: Duration?

    init(widenAfterIdle: Duration? = Self.defaultWidenAfterIdle) { self.widenAfterIdle = widenAfterIdle }

    /// Watching every bucket to help.
    private(set) var helping = false
    /// Since when the worker has been idle (not helping) or under a backlog (helping).
    private var since: ContinuousClock.Instant?

    /// Notes how the worker stands now; returns when to look again, if a switch is due then.
    /// - Parameters:
    ///   - idle: a slot is free and nothing is ready to claim.
    ///   - full: every slot is busy.
    mutating func note(idle: Bool, full: Bool, now: ContinuousClock.Instant) -> ContinuousClock.Instant? {
        // What would make us switch: idle while on our share, full while helping.
        let leaning = helping ? full : idle
        guard leaning, helping || widenAfterIdle != nil else {
            since = nil
            return nil
        }
        let start = since ?? now
        since = start
        let due = start + (helping ? Self.narrowAfterBacklog : widenAfterIdle ?? .zero)
        guard now >= due else { return due }
        helping.toggle()
        since = nil
        return nil
    }
}
