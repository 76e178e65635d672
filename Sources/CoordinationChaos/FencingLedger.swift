/// What one job's run reports at a point: the storage every run of that job (or shard) writes to.
public struct ResourceID: Sendable, Hashable, Comparable, CustomStringConvertible {
    public var job: String
    public var item: Int

    public init(job: String, item: Int) {
        self.job = job
        self.item = item
    }

    public var description: String { item == 0 ? job : "\(job)#\(item)" }

    public static func < (lhs: ResourceID, rhs: ResourceID) -> Bool { (lhs.job, lhs.item) < (rhs.job, rhs.item) }
}

/// One line a job's command sends to the sink: `begin|end JOB ITEM TOKEN RUN WORKER ATTEMPT`.
public struct SinkReport: Sendable, Hashable {
    public enum Kind: String, Sendable, Hashable {
        case begin
        case end
    }

    public var kind: Kind
    public var resource: ResourceID
    public var token: Int64
    public var run: String
    public var worker: String
    public var attempt: Int

    public init(kind: Kind, resource: ResourceID, token: Int64, run: String, worker: String, attempt: Int) {
        self.kind = kind
        self.resource = resource
        self.token = token
        self.run = run
        self.worker = worker
        self.attempt = attempt
    }

    /// Parses a line; `nil` for anything else.
    public init?(line: some StringProtocol) {
        let fields = line.split(separator: " ", omittingEmptySubsequences: true)
        guard fields.count == 7, let kind = Kind(rawValue: String(fields[0])), let item = Int(fields[2]),
            let token = Int64(fields[3]), let attempt = Int(fields[6])
        else { return nil }
        self.init(
            kind: kind, resource: ResourceID(job: String(fields[1]), item: item), token: token, run: String(fields[4]),
            worker: String(fields[5]), attempt: attempt)
    }

    public var line: String {
        "\(kind.rawValue) \(resource.job) \(resource.item) \(token) \(run) \(worker) \(attempt)"
    }
}

/// A report as the sink decided it: when it arrived (seconds since the run started, monotonic)
/// and whether it was accepted.
public struct SinkWrite: Sendable, Hashable {
    public var report: SinkReport
    public var at: Double
    public var accepted: Bool

    public init(report: SinkReport, at: Double, accepted: Bool) {
        self.report = report
        self.at = at
        self.accepted = accepted
    }

    public var resource: ResourceID { report.resource }
    public var token: Int64 { report.token }
}

/// The fenced storage the jobs write to: per resource it remembers the newest fencing token it
/// accepted and refuses a write carrying an older one, as a storage system behind a lock should
/// (the token of a later holder is always larger). Every decision is kept, in arrival order.
public struct FencingLedger: Sendable {
    private var newest: [ResourceID: Int64] = [:]
    public private(set) var writes: [SinkWrite] = []

    public init() {}

    /// Decides `report` arriving at `at`: accepted unless a newer token wrote to its resource before.
    public mutating func record(_ report: SinkReport, at: Double) -> Bool {
        let accepted = Self.accepts(report.token, newest: newest[report.resource])
        if accepted { newest[report.resource] = report.token }
        writes.append(SinkWrite(report: report, at: at, accepted: accepted))
        return accepted
    }

    /// The rule: a token at least as new as the newest accepted one (the same run writes more than once).
    public static func accepts(_ token: Int64, newest: Int64?) -> Bool {
        guard let newest else { return true }
        return token >= newest
    }
}
