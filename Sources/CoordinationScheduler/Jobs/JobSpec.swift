public import Coordination
public import Foundation

/// A job's definition, stored as JSON at `R/jobs/<b>/<id>` (see ``SchedulerLayout``): what to run, when, where and how often to retry.
/// Submit it through ``Scheduler/submit(_:)``, which validates it first.
public struct JobSpec: Sendable, Hashable, Codable {
    /// The job's id: one valid key segment.
    public var id: String
    /// The name of the handler a worker runs for it (registered in code on the worker).
    public var handler: String
    /// Opaque bytes handed to the handler (base64 in JSON).
    public var payload: Data
    /// When it fires.
    public var schedule: JobSchedule
    /// How many items each fire time is split into (1…``maxShards``); each item is a run of its own.
    public var shards: Int
    /// Optional per-item parameters (`shardParameters[i]` goes to item i); at most `shards` of them.
    public var shardParameters: [String]
    /// Higher first when a worker chooses what to claim.
    public var priority: Int
    /// Labels a worker must all have to run this job.
    public var requiredLabels: [String: String]
    /// Who runs the runs.
    public var placement: PlacementStrategy
    /// How long one attempt may run before it is cancelled and recorded as `timedOut`; `nil` for no limit.
    public var timeout: Duration?
    /// Retries after a failed, timed-out or abandoned attempt: with exponential back-off after a
    /// failure or a time-out; an abandoned attempt (its worker's session ended) is taken over at
    /// once, the session's TTL having been its wait, so that takeover stays within TTL + margin.
    public var retry: RetryPolicy
    /// What the leader does with fire times it missed (no leader, or a total outage).
    public var misfire: MisfirePolicy
    /// What happens when a fire time comes while a run of the job is still active.
    public var overlap: OverlapPolicy

    public init(
        id: String, handler: String, payload: Data = Data(), schedule: JobSchedule = .once(at: nil), shards: Int = 1,
        shardParameters: [String] = [], priority: Int = 0, requiredLabels: [String: String] = [:],
        placement: PlacementStrategy = .compete, timeout: Duration? = nil, retry: RetryPolicy = RetryPolicy(),
        misfire: MisfirePolicy = .fireOnceNow, overlap: OverlapPolicy = .queue
    ) {
        self.id = id
        self.handler = handler
        self.payload = payload
        self.schedule = schedule
        self.shards = shards
        self.shardParameters = shardParameters
        self.priority = priority
        self.requiredLabels = requiredLabels
        self.placement = placement
        self.timeout = timeout
        self.retry = retry
        self.misfire = misfire
        self.overlap = overlap
    }

    /// The most items a job may have: a job is submitted in one transaction that creates its runs
    /// beside its record (spec and state), history folder and incarnation key, within the
    /// contract's transaction limit (64). (Jobs added by earlier versions, which have no
    /// incarnation key, may have one more.)
    public static let maxShards = CoordinationLimits.maxTransactionOperations - JobSubmission.folderCount

    /// The shortest interval of an `every` schedule.
    public static let shortestInterval: Duration = .milliseconds(10)

    /// How far ahead a cron job must have a fire time to be accepted. An expression has no year
    /// field, so the rarest one (February 29) still fires at least every 8 years (2096, then 2104):
    /// one with no fire time in 8 years never fires.
    public static let cronHorizon: TimeInterval = 8 * 366 * 86_400

    /// Checks everything a store write would not, and what would only fail later (a key or a
    /// record over the store's limits, written by a worker or the leader long after submission):
    /// throws `invalidConfiguration` naming the field and the problem.
    /// - Parameters:
    ///   - now: where a cron expression's next fire time is looked for from.
    ///   - layout: where the job's keys will be: the longest id allowed depends on its root.
    public func validate(now: Date = Date(), layout: SchedulerLayout = SchedulerLayout()) throws(CoordinationError) {
        func invalid(_ message: String) -> CoordinationError {
            CoordinationError(.invalidConfiguration, "job \(Self.shown(id)): \(message)")
        }
        if let problem = Self.idProblem(id, layout: layout, broadcast: placement == .broadcast) { throw invalid(problem) }
        if handler.isEmpty { throw invalid("handler name is empty") }
        guard (1...Self.maxShards).contains(shards) else {
            throw invalid("shards must be between 1 and \(Self.maxShards), got \(shards)")
        }
        if shardParameters.count > shards {
            throw invalid(
                "\(shardParameters.count) shard parameters given for \(shards) \(shards == 1 ? "shard" : "shards"): "
                    + "give at most one parameter per shard, or \(shardParameters.count) shards")
        }
        if let timeout, timeout <= .zero { throw invalid("timeout must be positive, got \(DurationText.format(timeout))") }
        if retry.maxRetries < 0 { throw invalid("retries must not be negative, got \(retry.maxRetries)") }
        if let problem = RetryPolicy.tooManyRetries(retry.maxRetries) { throw invalid("retries \(problem)") }
        if retry.backoffBase <= .zero { throw invalid("retry back-off base must be positive") }
        if retry.backoffCap < retry.backoffBase { throw invalid("retry back-off cap must be at least its base") }
        if case .every(let interval, _) = schedule, interval < Self.shortestInterval {
            throw invalid("fixed rate interval must be at least 10ms, got \(DurationText.format(interval))")
        }
        // A run id holds its fire time's epoch milliseconds in 16 digits (see ``RunID``), which
        // every date of a 4-digit year fits: a later one would make keys longer than allowed for.
        let times: [(String, Date?)] =
            switch schedule {
            case .once(let at): [("time", at)]
            case .every(_, let start): [("start", start)]
            case .cron: []
            }
        for case (let name, let date?) in times where !(Self.earliestTime...Self.latestTime).contains(date) {
            throw invalid("schedule \(name) \(date.formatted(Date.ISO8601FormatStyle())) is outside the years 0001 to 9999")
        }
        if case .cron(let expression) = schedule, !expression.fires(after: now, within: Self.cronHorizon) {
            throw invalid(
                "cron expression '\(expression.text)' never fires: no time in the next 8 years matches it; check its "
                    + "day-of-month and month fields (February has no 30th or 31st; April, June, September and November no 31st)")
        }
        // A misfire is a fire time the leader found late; a one-shot job's run is created when it
        // is submitted, so the leader never finds it late, and `skip` would silently do nothing.
        if !schedule.isRecurring && misfire != .fireOnceNow {
            throw invalid(
                "misfire policy \(misfire.rawValue) applies to recurring jobs (cron or every) only: a one-shot job's run is "
                    + "created when it is submitted and runs however late a worker takes it; leave the misfire policy out")
        }
        for (name, _) in requiredLabels where name.isEmpty { throw invalid("a required label has an empty name") }
        if let problem = LabelPairs.spacedLabel(in: requiredLabels) { throw invalid("required \(problem)") }
        if placement == .broadcast && shards != 1 { throw invalid("a broadcast job cannot also be sharded") }
        if let problem = JobSubmission.sizeProblem(of: self, layout: layout) { throw invalid(problem) }
    }

    /// The range of a one-shot job's time and a fixed rate's start: the years 0001 to 9999.
    static let earliestTime = Date(timeIntervalSince1970: -62_135_596_800)
    static let latestTime = Date(timeIntervalSince1970: 253_402_300_799.999)

    /// Why `id` cannot be a job's id; `nil` when it can.
    static func idProblem(_ id: String, layout: SchedulerLayout, broadcast: Bool = false) -> String? {
        if let problem = Key.segmentProblem(id) { return "id is not a valid key segment: \(problem)" }
        // Spaces at either end are invisible in `coord jobs`, and `a` and `a ` would be two jobs.
        if id.first?.isWhitespace == true || id.last?.isWhitespace == true {
            return "id '\(id)' starts or ends with a space; remove it"
        }
        // Every `coord job` command would read it as options.
        if id.hasPrefix("-") { return "id '\(id)' starts with '-'; start it with a letter or a digit" }
        // Keys compare by bytes: a precomposed and a decomposed `é` would be two jobs that look alike.
        let composed = id.precomposedStringWithCanonicalMapping
        if !id.utf8.elementsEqual(composed.utf8) {
            return "id is not in Unicode normal form C (it has a letter written as a base and a combining mark, "
                + "which would be another job than the same letter precomposed); write it as '\(composed)'"
        }
        let longest = maxIDBytes(in: layout, broadcast: broadcast)
        let bytes = id.utf8.count
        if bytes > longest {
            return "id is \(bytes) bytes long (UTF-8); the longest \(broadcast ? "broadcast " : "")job id is \(max(0, longest)) bytes, "
                + "so that the keys of the job's runs fit the store's \(CoordinationLimits.maxKeyBytes)-byte key limit"
                + (broadcast ? " with a worker id of up to \(Worker.maxIDBytes) bytes in each run's id" : "")
                + (layout.root == .schedulerRoot ? "" : " under the scheduler root \(layout.root)")
        }
        return nil
    }

    /// The longest job id, in UTF-8 bytes, whose keys fit ``CoordinationLimits/maxKeyBytes``
    /// under `layout`. The longest keys a job has are a run's claim and a history entry (the
    /// sequential `h-` and its number; the incarnation key is shorter); run ids have a fixed width (see ``RunID``), their job's
    /// incarnation tag included, but a `broadcast` job's run ids add a worker's id, which may be
    /// up to ``Worker/maxIDBytes`` long.
    public static func maxIDBytes(in layout: SchedulerLayout = SchedulerLayout(), broadcast: Bool = false) -> Int {
        let bucket = 1 + SchedulerLayout.bucketNames[0].utf8.count + 1
        let worker = broadcast ? 1 + Worker.maxIDBytes : 0
        let run = RunID.scheduled(at: Date(timeIntervalSince1970: 0), item: 0, incarnation: JobIncarnation.longest).utf8.count + worker
        let claim = layout.jobs.path.utf8.count + bucket + 1 + run + 1 + SchedulerLayout.claimName.utf8.count
        let entry = layout.history.path.utf8.count + bucket + 1 + "h-".utf8.count + CoordinationLimits.sequenceDigits
        let fence = layout.incarnations.path.utf8.count + bucket + JobIncarnation.length + 1
        return CoordinationLimits.maxKeyBytes - max(claim, entry, fence)
    }

    /// An id as messages show it: a long one cut short (the message says how long it is).
    static func shown(_ id: String) -> String {
        if id.isEmpty { return "''" }
        return id.utf8.count <= 64 ? id : String(id.prefix(32)) + "…"
    }

    /// The parameter of item `index`, if one was given.
    public func parameter(ofItem index: Int) -> String? {
        index < shardParameters.count ? shardParameters[index] : nil
    }
}

/// When a job fires.
///
/// Fire times are instants of the leader's wall clock, and a run's id names its fire time
/// (``RunID``), so each runs once. When that clock is stepped forward past fire times, the misfire
/// policy applies to them once (one run at most, one `skipped` entry). When it is stepped back
/// (an NTP correction), the fire times it repeats have run, and are not run again: a recurring
/// job's next run comes when the clock reads its next fire time after the last one run, so a job
/// that fires every minute has no run for the hour a step back of an hour repeats. A retry's
/// back-off is a wait rather than a time, and stays one across a step (``RetryPolicy``).
public enum JobSchedule: Sendable, Hashable, Codable {
    /// Once: now (`nil`) or at a time. Materialised by the submitter, so it never waits for a leader.
    case once(at: Date?)
    /// At every fire time of a cron expression (UTC, with seconds).
    case cron(CronExpression)
    /// Every `interval`, counted from `start` (the submission time when `nil`).
    case every(Duration, start: Date?)

    /// `true` for `cron` and `every`, whose fire times the leader materialises.
    public var isRecurring: Bool {
        if case .once = self { return false }
        return true
    }
}

/// Retries with exponential back-off: attempt n (n ≥ 2) waits `min(cap, base × 2^(n−2))` after
/// a failed or timed-out attempt (a takeover of an abandoned one does not wait). A worker whose
/// wall clock is behind the one that wrote the retry's time, or was stepped back since, waits the
/// back-off from when it noticed, not until its clock reads that time.
public struct RetryPolicy: Sendable, Hashable, Codable {
    /// Attempts after the first: `2` allows three attempts in all; `0` none.
    public var maxRetries: Int
    /// The wait before the first retry (after a failure or a time-out); doubled for each next one.
    public var backoffBase: Duration
    /// The longest wait between attempts.
    public var backoffCap: Duration

    public init(maxRetries: Int = 0, backoffBase: Duration = .seconds(1), backoffCap: Duration = .seconds(60)) {
        self.maxRetries = maxRetries
        self.backoffBase = backoffBase
        self.backoffCap = backoffCap
    }

    /// The wait before attempt `attempt` (the first retry is attempt 2).
    public func backoff(beforeAttempt attempt: Int) -> Duration {
        let doublings = max(0, attempt - 2)
        guard doublings < 40 else { return backoffCap }
        return min(backoffCap, backoffBase * (1 << doublings))
    }

    /// `true` when a run that just ended attempt `attempt` unsuccessfully may run again.
    public func allowsAnother(after attempt: Int) -> Bool { attempt <= maxRetries }

    /// The most retries a job may have (``JobSpec/validate(now:layout:)``): far more than any
    /// failure is worth retrying, short of what a worker's count of a job's attempts overflows at
    /// (`Int.max` crashed every worker that claimed the job, over and over).
    public static let mostRetries = 1_000_000

    /// Why `retries` is too many, to follow the name of the field or option that gave it; `nil`
    /// when it is not.
    public static func tooManyRetries(_ retries: Int) -> String? {
        guard retries > mostRetries else { return nil }
        return "must be at most \(mostRetries), got \(retries): at the longest back-off between attempts (1m by default) "
            + "that is retrying for about two years; a job that should not give up is better a recurring one (cron or every)"
    }
}

/// What the leader does with fire times that passed while nobody materialised them.
public enum MisfirePolicy: String, Sendable, Hashable, Codable, CaseIterable {
    /// One run, for the latest missed fire time; the others are recorded as `skipped`.
    case fireOnceNow
    /// No run; the missed fire times are recorded as `skipped`.
    case skip
}

/// What happens when a job fires while one of its runs is still active.
public enum OverlapPolicy: String, Sendable, Hashable, Codable, CaseIterable {
    /// Record `skipped` for the new fire time instead of running it.
    case skip
    /// Materialise it anyway; runs of different fire times of one job run one after another.
    /// Unbounded: a job whose runs take longer than its interval gains a pending run per fire
    /// time for as long as that lasts; give such a job `skip`.
    case queue
    /// Ask the active runs to cancel, then materialise the new fire time.
    case replace
}

/// Who runs a job's runs (the claim stays the single source of truth whatever the strategy).
public enum PlacementStrategy: String, Sendable, Hashable, Codable, CaseIterable {
    /// Any eligible worker; the first claim wins; busier workers wait a little before claiming.
    case compete
    /// The leader assigns runs to workers in turn. A sharded job's items (here, with
    /// `leastLoaded` and with `weighted`) keep their workers from one fire time to the next,
    /// spread in proportion to the workers' capacities (weights, for `weighted`) and moved as
    /// little as possible when workers come or go.
    case roundRobin
    /// The leader assigns each run to a random worker.
    case random
    /// The leader assigns each run to the worker with the most free capacity.
    case leastLoaded
    /// The leader assigns in proportion to the workers' weights.
    case weighted
    /// The leader assigns by a hash ring over worker ids: sticky, a returning worker gets its share back.
    case consistentHash
    /// Every live eligible worker runs each fire time.
    case broadcast

    /// Parses a strategy name; throws `invalidConfiguration` listing the known ones.
    public init(parsing text: String) throws(CoordinationError) {
        guard let strategy = PlacementStrategy(rawValue: text) else {
            let known = PlacementStrategy.allCases.map(\.rawValue).joined(separator: ", ")
            throw CoordinationError(.invalidConfiguration, "unknown placement strategy '\(text)'; known: \(known)")
        }
        self = strategy
    }

    /// `true` when the leader writes an assignee into pending runs.
    public var isPlanned: Bool { self != .compete }
}
