public import Foundation

/// One run of a job (one item of one fire time), at `R/jobs/<b>/<job>/<run>` while it is active.
///
/// The record's version is the fence of whoever claimed it: the claim transaction sets it, and
/// every later write about the run checks it first, so a claimer that was taken over can never
/// write again.
public struct RunRecord: Sendable, Hashable, Codable {
    public enum Status: String, Sendable, Hashable, Codable {
        case pending
        case running
    }

    public var job: String
    public var run: String
    public var item: Int
    public var itemCount: Int
    public var itemParameter: String?
    /// The fire time this run belongs to (the trigger time for a triggered run).
    public var scheduledAt: Date
    /// Not claimed before this (a future one-shot, or a retry's back-off).
    public var notBefore: Date
    /// 1 for the first attempt; +1 for each retry (including takeovers of abandoned attempts).
    public var attempt: Int
    public var status: Status
    /// Who is running it (while `running`), or who ran the previous attempt (while `pending`).
    public var worker: String?
    public var startedAt: Date?
    /// For planned placement: the only worker that may claim it while it is a live member.
    public var assignee: String?
    /// Set to ask the running worker to cancel it (job cancelled or replaced).
    public var cancelRequested: Bool
    /// Why it was asked to cancel ("cancelled by request", "replaced by the fire time …"): the
    /// message of the `cancelled` entry its worker writes.
    public var cancelReason: String?
    /// The last progress the handler reported.
    public var progress: String?
    /// The version the claim transaction gave this record. While the record is still at it, its
    /// modRevision is the claim's token (one transaction, one revision, on every backend): a
    /// taker that never saw the claim can still name the attempt it takes over.
    public var claimVersion: Int64?
    /// While running: the `createRevision` of the claimant's member key (`R/workers/<worker>`) in
    /// the session it claimed in. Workers do not watch claims; a running run is held while its worker is a
    /// member with this registration, and abandoned once that member key is gone (its session
    /// ended, taking the claim with it) or was created anew (a new session).
    public var registration: Int64?
    /// While running: the attempt's fencing token, written by the first write about the run after
    /// the claim (progress, a cancel request), which moves the record past ``claimVersion``.
    public var token: Int64?

    public init(
        job: String, run: String, item: Int, itemCount: Int, itemParameter: String?, scheduledAt: Date,
        notBefore: Date, attempt: Int = 1, status: Status = .pending, worker: String? = nil, startedAt: Date? = nil,
        assignee: String? = nil, cancelRequested: Bool = false, progress: String? = nil
    ) {
        self.job = job
        self.run = run
        self.item = item
        self.itemCount = itemCount
        self.itemParameter = itemParameter
        self.scheduledAt = scheduledAt
        self.notBefore = notBefore
        self.attempt = attempt
        self.status = status
        self.worker = worker
        self.startedAt = startedAt
        self.assignee = assignee
        self.cancelRequested = cancelRequested
        self.progress = progress
    }
}

extension RunRecord {
    /// Makes the record pending again, with nothing of a claim left on it (no start, progress,
    /// claim version, registration or token): as a run no worker has claimed yet reads.
    mutating func clearClaim() {
        status = .pending
        startedAt = nil
        progress = nil
        claimVersion = nil
        registration = nil
        token = nil
    }

    /// The running attempt's fencing token as this version of the record (at `version` and
    /// `modRevision`) tells it; `nil` for a pending run, or for a record written past its claim
    /// by a writer that did not carry the token.
    public func attemptToken(version: Int64, modRevision: Int64) -> Int64? {
        guard status == .running else { return nil }
        return claimVersion == version ? modRevision : token
    }

    /// The worker running it; `nil` while pending.
    var runningWorker: String? { status == .running ? worker : nil }
}
