/// What a worker publishes as its membership value at `R/workers/<id>`.
public struct WorkerInfo: Sendable, Hashable, Codable {
    public var capacity: Int
    public var weight: Int
    public var labels: [String: String]
    public var handlers: [String]
    /// Shutting down gracefully: finishing its runs and claiming no more. The other workers take
    /// over its share of the buckets (``BucketShare``) and the leader places no new runs on it,
    /// while its runs stay held by its membership until it leaves.
    public var draining: Bool

    public init(capacity: Int, weight: Int, labels: [String: String], handlers: [String], draining: Bool = false) {
        self.capacity = capacity
        self.weight = weight
        self.labels = labels
        self.handlers = handlers
        self.draining = draining
    }

    private enum CodingKeys: String, CodingKey { case capacity, weight, labels, handlers, draining }

    // `draining` is written only while true and read as false when absent: a worker of an
    // earlier coord writes none, and reads a draining worker's value as before.
    public init(from decoder: any Decoder) throws {
        let container = try decoder.container(keyedBy: CodingKeys.self)
        capacity = try container.decode(Int.self, forKey: .capacity)
        weight = try container.decode(Int.self, forKey: .weight)
        labels = try container.decode([String: String].self, forKey: .labels)
        handlers = try container.decode([String].self, forKey: .handlers)
        draining = try container.decodeIfPresent(Bool.self, forKey: .draining) ?? false
    }

    public func encode(to encoder: any Encoder) throws {
        var container = encoder.container(keyedBy: CodingKeys.self)
        try container.encode(capacity, forKey: .capacity)
        try container.encode(weight, forKey: .weight)
        try container.encode(labels, forKey: .labels)
        try container.encode(handlers, forKey: .handlers)
        if draining { try container.encode(true, forKey: .draining) }
    }

    /// `true` when this worker may run `job`: it has the handler and every required label.
    public func canRun(_ job: JobSpec) -> Bool {
        handlers.contains(job.handler) && job.requiredLabels.allSatisfy { labels[$0.key] == $0.value }
    }

    /// `true` when new runs of `job` may be placed on this worker: it can run them and is not draining.
    public func takesNewRuns(of job: JobSpec) -> Bool { !draining && canRun(job) }
}
