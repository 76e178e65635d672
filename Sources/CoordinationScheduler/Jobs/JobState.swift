public import Foundation

/// The scheduler's bookkeeping for one job, kept in the job's record (``JobRecord``) beside its
/// definition. Every change is a compare-and-set on that record's version, so two writers (an old
/// and a new leader, a client and the leader) cannot both win.
public struct JobState: Sendable, Hashable, Codable {
    /// Paused jobs are neither materialised nor claimed.
    public var paused: Bool
    /// The last fire time turned into runs (or recorded as skipped), or the leader's time a resume
    /// or a submission from a clock ahead settled at: a fire time is materialised exactly once
    /// because this moves forward in the same transaction that creates its runs.
    public var lastMaterialized: Date?
    /// How many times the job was triggered by hand: trigger run ids come from it.
    public var triggers: Int
    /// When the job was submitted: the anchor of a fixed-rate schedule without a start.
    public var submittedAt: Date
    /// For planned, sharded jobs: the worker each item is assigned to (sticky across fire times).
    public var itemAssignment: [Int: String]
    /// Broadcasts (a fire time's, a trigger's, a submission's) to more workers than the
    /// transaction that recorded them holds, whose other runs are still to be created.
    public var unfinishedBroadcasts: [UnfinishedBroadcast]
    /// A resume the leader has not settled yet: when the client resumed the job, on the client's
    /// clock. The leader settles it on its own clock, as the earlier of this and when it saw the
    /// resume: fire times before that were paused, later ones are due. A client clock ahead of
    /// the leader's, taken as is, lost the fire times of the difference without a trace.
    public var resumedAt: Date?
    /// The tag of this incarnation of the job, drawn when it was added and part of its run ids
    /// (``RunID``), so that a job removed and added again under the same id has other run ids
    /// than before. `nil` for a job added by an earlier version, whose run ids have no tag.
    public var incarnation: String?
    /// Whether this incarnation has its key (``SchedulerLayout/incarnation(of:tag:)``), which
    /// every write of the record read checks (``IncarnationFence``). `false` for a job added by
    /// an earlier version, which has none: its writes go unfenced, as they did.
    public var fenced: Bool

    public init(
        paused: Bool = false, lastMaterialized: Date? = nil, triggers: Int = 0, submittedAt: Date,
        itemAssignment: [Int: String] = [:], unfinishedBroadcasts: [UnfinishedBroadcast] = [], resumedAt: Date? = nil,
        incarnation: String? = nil, fenced: Bool = false
    ) {
        self.paused = paused
        self.lastMaterialized = lastMaterialized
        self.triggers = triggers
        self.submittedAt = submittedAt
        self.itemAssignment = itemAssignment
        self.unfinishedBroadcasts = unfinishedBroadcasts
        self.resumedAt = resumedAt
        self.incarnation = incarnation
        self.fenced = fenced
    }

    /// This state with its resume settled at `now` (the leader's clock): fire times up to the
    /// earlier of the resume's time and `now` count as paused. Unchanged when there is no resume
    /// to settle.
    func settlingResume(now: Date) -> JobState {
        guard let resumedAt else { return self }
        var settled = self
        settled.resumedAt = nil
        let pausedUntil = min(resumedAt, now)
        if pausedUntil > (lastMaterialized ?? submittedAt) { settled.lastMaterialized = pausedUntil }
        return settled
    }

    /// The time after which the job's fire times are due: its last materialised one (as the
    /// schedule computes it: ``JobSchedule/fireTime(readBack:anchor:)``), else its submission.
    public func fireTimesDue(after schedule: JobSchedule) -> Date {
        lastMaterialized.map { schedule.fireTime(readBack: $0, anchor: submittedAt) } ?? submittedAt
    }

    /// This state with a submission time ahead of `now` (the leader's clock: the submitter's was
    /// ahead of it) settled at `now`, before the job's first fire time: fire times from `now` on
    /// are due, as on one clock. Counted from the submission time, those of the difference were
    /// lost without a trace. A fixed rate without a start counts from the submission time on
    /// whichever clock it was read, and is left as it is.
    func settlingSubmission(now: Date, schedule: JobSchedule) -> JobState {
        guard lastMaterialized == nil, submittedAt > now else { return self }
        if case .every(_, start: nil) = schedule { return self }
        var settled = self
        settled.lastMaterialized = now
        return settled
    }
}

/// A broadcast whose runs past the first transaction's are created afterwards, a chunk per
/// transaction in worker id order, each moving `after` on in the job's record (a
/// compare-and-set): whoever writes the next chunk (the leader, when the writer stopped between
/// two) goes on from there, and no worker's run is created twice.
public struct UnfinishedBroadcast: Sendable, Hashable, Codable {
    /// The run id without its worker: `r-<ms>-000` or `t-<n>-000`, with the job's incarnation
    /// after it when it has one (``RunID``).
    public var run: String
    public var scheduledAt: Date
    /// The last worker, in id order, whose run was created.
    public var after: String

    public init(run: String, scheduledAt: Date, after: String) {
        self.run = run
        self.scheduledAt = scheduledAt
        self.after = after
    }
}

extension JobState {
    enum CodingKeys: String, CodingKey {
        case paused, lastMaterialized, triggers, submittedAt, itemAssignment, unfinishedBroadcasts, resumedAt, incarnation, fenced
    }

    // Item numbers are JSON object keys (strings), not Swift's array-of-pairs for `[Int: String]`.
    public init(from decoder: any Decoder) throws {
        let container = try decoder.container(keyedBy: CodingKeys.self)
        let items = try container.decodeIfPresent([String: String].self, forKey: .itemAssignment) ?? [:]
        self.init(
            paused: try container.decodeIfPresent(Bool.self, forKey: .paused) ?? false,
            lastMaterialized: try container.decodeIfPresent(Date.self, forKey: .lastMaterialized),
            triggers: try container.decodeIfPresent(Int.self, forKey: .triggers) ?? 0,
            submittedAt: try container.decode(Date.self, forKey: .submittedAt),
            itemAssignment: Dictionary(uniqueKeysWithValues: items.compactMap { key, value in Int(key).map { ($0, value) } }),
            unfinishedBroadcasts: try container.decodeIfPresent([UnfinishedBroadcast].self, forKey: .unfinishedBroadcasts) ?? [],
            resumedAt: try container.decodeIfPresent(Date.self, forKey: .resumedAt),
            incarnation: try container.decodeIfPresent(String.self, forKey: .incarnation),
            fenced: try container.decodeIfPresent(Bool.self, forKey: .fenced) ?? false)
    }

    // Fields at their defaults are left out, as in a job spec (see JobSpecCoding.swift).
    public func encode(to encoder: any Encoder) throws {
        var container = encoder.container(keyedBy: CodingKeys.self)
        if paused { try container.encode(paused, forKey: .paused) }
        try container.encodeIfPresent(lastMaterialized, forKey: .lastMaterialized)
        if triggers != 0 { try container.encode(triggers, forKey: .triggers) }
        try container.encode(submittedAt, forKey: .submittedAt)
        if !itemAssignment.isEmpty {
            try container.encode(
                Dictionary(uniqueKeysWithValues: itemAssignment.map { (String($0.key), $0.value) }), forKey: .itemAssignment)
        }
        if !unfinishedBroadcasts.isEmpty { try container.encode(unfinishedBroadcasts, forKey: .unfinishedBroadcasts) }
        try container.encodeIfPresent(resumedAt, forKey: .resumedAt)
        try container.encodeIfPresent(incarnation, forKey: .incarnation)
        if fenced { try container.encode(fenced, forKey: .fenced) }
    }
}
