import Foundation

// Fields at their defaults are left out, as in a job spec (see JobSpecCoding.swift): every worker
// decodes a run record each time it changes (pending, then running), and on etcd the gateway
// encodes it again for every watcher. A one-shot run went from about 190 bytes to about 100.
// `job`, `run` and `status` stay although the key names the first two: people and other tools
// read the record alone.

extension RunRecord {
    enum CodingKeys: String, CodingKey {
        case job, run, item, itemCount, itemParameter, scheduledAt, notBefore, attempt, status, worker, startedAt,
            assignee, cancelRequested, cancelReason, progress, claimVersion, registration, token
    }

    public init(from decoder: any Decoder) throws {
        let container = try decoder.container(keyedBy: CodingKeys.self)
        let scheduledAt = try container.decode(Date.self, forKey: .scheduledAt)
        self.init(
            job: try container.decode(String.self, forKey: .job),
            run: try container.decode(String.self, forKey: .run),
            item: try container.decodeIfPresent(Int.self, forKey: .item) ?? 0,
            itemCount: try container.decodeIfPresent(Int.self, forKey: .itemCount) ?? 1,
            itemParameter: try container.decodeIfPresent(String.self, forKey: .itemParameter),
            scheduledAt: scheduledAt,
            notBefore: try container.decodeIfPresent(Date.self, forKey: .notBefore) ?? scheduledAt,
            attempt: try container.decodeIfPresent(Int.self, forKey: .attempt) ?? 1,
            status: try container.decode(Status.self, forKey: .status),
            worker: try container.decodeIfPresent(String.self, forKey: .worker),
            startedAt: try container.decodeIfPresent(Date.self, forKey: .startedAt),
            assignee: try container.decodeIfPresent(String.self, forKey: .assignee),
            cancelRequested: try container.decodeIfPresent(Bool.self, forKey: .cancelRequested) ?? false,
            progress: try container.decodeIfPresent(String.self, forKey: .progress))
        claimVersion = try container.decodeIfPresent(Int64.self, forKey: .claimVersion)
        registration = try container.decodeIfPresent(Int64.self, forKey: .registration)
        token = try container.decodeIfPresent(Int64.self, forKey: .token)
        cancelReason = try container.decodeIfPresent(String.self, forKey: .cancelReason)
    }

    public func encode(to encoder: any Encoder) throws {
        var container = encoder.container(keyedBy: CodingKeys.self)
        try container.encode(job, forKey: .job)
        try container.encode(run, forKey: .run)
        if item != 0 { try container.encode(item, forKey: .item) }
        if itemCount != 1 { try container.encode(itemCount, forKey: .itemCount) }
        try container.encodeIfPresent(itemParameter, forKey: .itemParameter)
        try container.encode(scheduledAt, forKey: .scheduledAt)
        if notBefore != scheduledAt { try container.encode(notBefore, forKey: .notBefore) }
        if attempt != 1 { try container.encode(attempt, forKey: .attempt) }
        try container.encode(status, forKey: .status)
        try container.encodeIfPresent(worker, forKey: .worker)
        try container.encodeIfPresent(startedAt, forKey: .startedAt)
        try container.encodeIfPresent(assignee, forKey: .assignee)
        if cancelRequested { try container.encode(cancelRequested, forKey: .cancelRequested) }
        try container.encodeIfPresent(cancelReason, forKey: .cancelReason)
        try container.encodeIfPresent(progress, forKey: .progress)
        try container.encodeIfPresent(claimVersion, forKey: .claimVersion)
        try container.encodeIfPresent(registration, forKey: .registration)
        try container.encodeIfPresent(token, forKey: .token)
    }
}
