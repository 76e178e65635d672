/// A control the harness applied to a job while workers ran it, through the scheduler's client
/// API, with the store revisions that order it against claims: a claim's fencing token is the
/// revision of its transaction, so a claim made after the control was acknowledged has a larger
/// token than a revision read once the call had returned.
public struct JobControlRecord: Sendable, Hashable {
    public enum Action: String, Sendable, Hashable {
        /// `Scheduler.cancel`: its active runs end as they are, and none starts again.
        case cancel
        /// `Scheduler.pause`, later `Scheduler.resume`: no run starts in between.
        case pause
        /// Cancelled, its runs waited out, removed and submitted again: a new incarnation
        /// (``incarnation``), and no run of an older one starts after the removal.
        case replace
    }

    public var job: String
    public var action: Action
    /// Seconds since the run started, when the call returned (for the evidence's wording).
    public var at: Double
    /// A revision read after the cancel, the pause or the removal returned.
    public var acknowledgedRevision: Int64
    /// A pause's end: a revision read before the resume was sent; `nil` when it never was.
    public var resumedRevision: Int64?
    /// A replacement's incarnation tag (``JobState/incarnation``).
    public var incarnation: String?

    public init(
        job: String, action: Action, at: Double, acknowledgedRevision: Int64, resumedRevision: Int64? = nil, incarnation: String? = nil
    ) {
        self.job = job
        self.action = action
        self.at = at
        self.acknowledgedRevision = acknowledgedRevision
        self.resumedRevision = resumedRevision
        self.incarnation = incarnation
    }

    /// The incarnation tag a run id carries (`r-<ms>-<item>-<tag>`), `nil` for an untagged one.
    static func incarnation(ofRun run: String) -> String? {
        let parts = run.split(separator: "-", maxSplits: 4, omittingEmptySubsequences: false)
        return parts.count >= 4 ? String(parts[3]) : nil
    }
}
