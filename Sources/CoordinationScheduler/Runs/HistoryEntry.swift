public import Foundation

/// One finished attempt, an attempt handed back, or a skipped fire time, at `R/history/<b>/<job>/h-<sequence>`, written in the
/// same transaction as the change that ended it. Bounded per job (``SchedulerLayout/historyLimit``).
public struct HistoryEntry: Sendable, Hashable, Codable {
    public enum Outcome: String, Sendable, Hashable, Codable, CaseIterable {
        case succeeded
        case failed
        case timedOut
        /// The worker's session ended (or it lost its safe window) while the attempt held the run.
        /// Its handler may never have started: a claim that landed as its worker's session was
        /// replaced is given back unstarted, but should the session it landed in end too before
        /// that give-back, a takeover may land first, and the store holds nothing that tells such a
        /// claim from one whose handler ran (``RunExecution/giveBackHold(_:fence:)``).
        case abandoned
        case cancelled
        /// A fire time that produced no run (misfire or overlap policy, or a broadcast with no
        /// live worker able to run it).
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
        self.message = message.map { Self.head(of: $0) }
        self.stdoutTail = stdoutTail.map { Self.tail(of: $0) }
        self.stderrTail = stderrTail.map { Self.tail(of: $0) }
    }

    /// The most UTF-8 bytes kept of the message and of each output tail: an entry is written in
    /// the transaction that ends its run, and one over the store's value limit would keep that
    /// end from ever landing (the run "running" under a live claim for as long as the worker lives).
    public static let textLimit = 4096

    /// The first ``textLimit`` bytes of `text`, cut at a character's boundary, marked with "…".
    static func head(of text: String) -> String {
        guard text.utf8.count > textLimit else { return text }
        let bytes = Array(text.utf8)
        var end = textLimit - 3  // room for the ellipsis
        while end > 0 && bytes[end] & 0xC0 == 0x80 { end -= 1 }
        return String(decoding: bytes[..<end], as: UTF8.self) + "…"
    }

    /// At most the last ``textLimit`` bytes of `text` (an output's end says most), as ``OutputTail`` cuts it.
    static func tail(of text: String) -> String {
        text.utf8.count > textLimit ? OutputTail.text(ofLast: Array(text.utf8), total: text.utf8.count) : text
    }
}

extension HistoryEntry {
    /// This entry of an attempt whose run a cancel request ended as the attempt's end was being
    /// written: a failure (or time-out, or abandonment) says first that it is not retried, and
    /// why; a hand-back becomes the run's cancellation, with the attempt's worker and start.
    func endedByCancel(_ reason: String) -> HistoryEntry {
        let handedBack = outcome == .handedBack
        return HistoryEntry(
            job: job, run: run, item: item, worker: worker, token: token, attempt: attempt, scheduledAt: scheduledAt,
            startedAt: startedAt, finishedAt: finishedAt, outcome: handedBack ? .cancelled : outcome,
            message: handedBack ? reason : "not retried (\(reason))" + (message.map { ": \($0)" } ?? ""), stdoutTail: stdoutTail,
            stderrTail: stderrTail)
    }
}
