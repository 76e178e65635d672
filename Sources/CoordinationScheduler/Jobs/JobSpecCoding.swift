import Coordination
import Foundation

// The stored JSON is read by the CLI and by people: durations are whole milliseconds
// (`timeoutMs`), a schedule is an object with a `kind`, never Swift's default encodings.
//
// Fields at their defaults are left out (the decoders supply them): every worker reads every job
// spec and state, and on etcd every byte of them is decoded again by the gateway. A one-shot job's
// spec was 268 bytes with the defaults written out; it is 59 without.

extension JobSpec {
    /// The fields of a job's JSON object, in the order they are written: for readers that must
    /// refuse any other (a jobs file a person wrote), where a stored job must not (a later coord
    /// may add fields).
    public static var jsonFields: [String] { CodingKeys.allCases.map(\.stringValue) }

    enum CodingKeys: String, CodingKey, CaseIterable {
        case id, handler, payload, schedule, shards, shardParameters, priority, requiredLabels, placement, timeoutMs, retry,
            misfire, overlap
    }

    public init(from decoder: any Decoder) throws {
        let container = try decoder.container(keyedBy: CodingKeys.self)
        self.init(
            id: try container.decode(String.self, forKey: .id),
            handler: try container.decode(String.self, forKey: .handler),
            payload: try container.decodeIfPresent(Data.self, forKey: .payload) ?? Data(),
            schedule: try container.decodeIfPresent(JobSchedule.self, forKey: .schedule) ?? .once(at: nil),
            shards: try container.decodeIfPresent(Int.self, forKey: .shards) ?? 1,
            shardParameters: try container.decodeIfPresent([String].self, forKey: .shardParameters) ?? [],
            priority: try container.decodeIfPresent(Int.self, forKey: .priority) ?? 0,
            requiredLabels: try container.decodeIfPresent([String: String].self, forKey: .requiredLabels) ?? [:],
            placement: try container.decodeIfPresent(PlacementStrategy.self, forKey: .placement) ?? .compete,
            timeout: try container.decodeIfPresent(Int64.self, forKey: .timeoutMs).map { .milliseconds($0) },
            retry: try container.decodeIfPresent(RetryPolicy.self, forKey: .retry) ?? RetryPolicy(),
            misfire: try container.decodeIfPresent(MisfirePolicy.self, forKey: .misfire) ?? .fireOnceNow,
            overlap: try container.decodeIfPresent(OverlapPolicy.self, forKey: .overlap) ?? .queue)
    }

    public func encode(to encoder: any Encoder) throws {
        var container = encoder.container(keyedBy: CodingKeys.self)
        try container.encode(id, forKey: .id)
        try container.encode(handler, forKey: .handler)
        if !payload.isEmpty { try container.encode(payload, forKey: .payload) }
        try container.encode(schedule, forKey: .schedule)
        if shards != 1 { try container.encode(shards, forKey: .shards) }
        if !shardParameters.isEmpty { try container.encode(shardParameters, forKey: .shardParameters) }
        if priority != 0 { try container.encode(priority, forKey: .priority) }
        if !requiredLabels.isEmpty { try container.encode(requiredLabels, forKey: .requiredLabels) }
        if placement != .compete { try container.encode(placement, forKey: .placement) }
        try container.encodeIfPresent(timeout?.wholeMilliseconds, forKey: .timeoutMs)
        if retry != RetryPolicy() { try container.encode(retry, forKey: .retry) }
        if misfire != .fireOnceNow { try container.encode(misfire, forKey: .misfire) }
        if overlap != .queue { try container.encode(overlap, forKey: .overlap) }
    }
}

extension JobSchedule {
    /// The fields of a schedule's JSON object (see ``JobSpec/jsonFields``).
    public static var jsonFields: [String] { CodingKeys.allCases.map(\.stringValue) }

    enum CodingKeys: String, CodingKey, CaseIterable {
        case kind, at, cron, everyMs, start
    }

    public init(from decoder: any Decoder) throws {
        let container = try decoder.container(keyedBy: CodingKeys.self)
        let kind = try container.decode(String.self, forKey: .kind)
        switch kind {
        case "once":
            self = .once(at: try container.decodeIfPresent(Date.self, forKey: .at))
        case "cron":
            self = .cron(try container.decode(CronExpression.self, forKey: .cron))
        case "every":
            self = .every(
                .milliseconds(try container.decode(Int64.self, forKey: .everyMs)),
                start: try container.decodeIfPresent(Date.self, forKey: .start))
        default:
            throw DecodingError.dataCorruptedError(
                forKey: .kind, in: container, debugDescription: "unknown schedule kind '\(kind)' (once, cron, every)")
        }
    }

    public func encode(to encoder: any Encoder) throws {
        var container = encoder.container(keyedBy: CodingKeys.self)
        switch self {
        case .once(let at):
            try container.encode("once", forKey: .kind)
            try container.encodeIfPresent(at, forKey: .at)
        case .cron(let expression):
            try container.encode("cron", forKey: .kind)
            try container.encode(expression, forKey: .cron)
        case .every(let interval, let start):
            try container.encode("every", forKey: .kind)
            try container.encode(interval.wholeMilliseconds, forKey: .everyMs)
            try container.encodeIfPresent(start, forKey: .start)
        }
    }
}

extension RetryPolicy {
    /// The fields of a retry policy's JSON object (see ``JobSpec/jsonFields``).
    public static var jsonFields: [String] { CodingKeys.allCases.map(\.stringValue) }

    enum CodingKeys: String, CodingKey, CaseIterable {
        case maxRetries, backoffBaseMs, backoffCapMs
    }

    public init(from decoder: any Decoder) throws {
        let container = try decoder.container(keyedBy: CodingKeys.self)
        self.init(
            maxRetries: try container.decodeIfPresent(Int.self, forKey: .maxRetries) ?? 0,
            backoffBase: .milliseconds(try container.decodeIfPresent(Int64.self, forKey: .backoffBaseMs) ?? 1000),
            backoffCap: .milliseconds(try container.decodeIfPresent(Int64.self, forKey: .backoffCapMs) ?? 60_000))
    }

    public func encode(to encoder: any Encoder) throws {
        var container = encoder.container(keyedBy: CodingKeys.self)
        try container.encode(maxRetries, forKey: .maxRetries)
        try container.encode(backoffBase.wholeMilliseconds, forKey: .backoffBaseMs)
        try container.encode(backoffCap.wholeMilliseconds, forKey: .backoffCapMs)
    }
}
