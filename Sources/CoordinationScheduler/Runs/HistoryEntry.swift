public import Foundation

/// One finished attempt, an attempt handed back, or a skipped fire time, at `R/history/<b>/<job>/h-<sequence>`, written in the
/// same transaction as the change that ended it. Bounded per job (``SchedulerLayout/historyLimit``).
public struct HistoryEntry: Sendable, Hashable, Codable {
    public enum Outcome: String, Sendable, Hashable, Codable, CaseIterable {
        case succeeded
        case failed
        case timedOut
        /// The worker's session ended (or it lost its safe window) while the attempt ran.
        case abandoned
        case cancelled
        /// A fire time that produced no run (misfire or overlap policy).
        case skipped
        /// The attempt's worker stopped before it ended and gave the run back (pending, at the same
        /// attempt, for another worker): not an end of the run, which carries on.
        case handedBack

        /// Whether the run ended with this entry (every outcome but ``handedBack``).
        public var endsTheRun: Bool { self != .handedBack }
    }

    public var job: String
    public var run: String?
    public var item: Int?
    public var worker: String?
    /// The attempt's fencing token (its claim's `createRevision`).
    public var token: Int64?
    public var attempt: Int?
    public var scheduledAt: Date?
    public var startedAt: Date?
    public var finishedAt: Date
    public var outcome: Outcome
    public var message: String?
    public var stdoutTail: String?
    public var stderrTail: String?

    public init(
        job: String, run: String? = nil, item: Int? = nil, worker: String? = nil, token: Int64? = nil,
        attempt: Int? = nil, scheduledAt: Date? = nil, startedAt: Date? = nil, finishedAt: Date, outcome: Outcome,
        message: String? = nil, stdoutTail: String? = nil, stderrTail: String? = nil
    ) {
        self.job = job
        self.run = run
        self.item = item
        self.worker = worker
        self.token = token
        self.attempt = attempt
        self.scheduledAt = scheduledAt
        self.startedAt = startedAt
        self.finishedAt = finishedAt
        self.outcome = outcome
        self.message = message
        self.stdoutTail = stdoutTail
        self.stderrTail = stderrTail
    }
}
