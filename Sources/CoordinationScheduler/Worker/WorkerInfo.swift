/// What a worker publishes as its membership value at `R/workers/<id>`.
public struct WorkerInfo: Sendable, Hashable, Codable {
    public var capacity: Int
    public var weight: Int
    public var labels: [String: String]
    public var handlers: [String]

    public init(capacity: Int, weight: Int, labels: [String: String], handlers: [String]) {
        self.capacity = capacity
        self.weight = weight
        self.labels = labels
        self.handlers = handlers
    }

    /// `true` when this worker may run `job`: it has the handler and every required label.
    public func canRun(_ job: JobSpec) -> Bool {
        handlers.contains(job.handler) && job.requiredLabels.allSatisfy { labels[$0.key] == $0.value }
    }
}
