import CoordinationScheduler

/// What a chaos run collected, everything the invariants are judged on.
public struct ChaosEvidence: Sendable {
    /// Every report the sink decided, in arrival order.
    public var writes: [SinkWrite]
    /// Every history entry seen in the store.
    public var history: [HistorySighting]
    /// Every run record version seen in the store.
    public var runs: [RunSighting]
    /// The (job, item)s that must have succeeded.
    public var mustSucceed: Set<ResourceID>
    /// Jobs that fire on a schedule (checked per fire time).
    public var cronJobs: Set<String>
    /// Workers stopped past their TTL and woken.
    public var wakes: [WorkerWake]
    /// Workers stopped alone, their commands left running.
    public var stalls: [WorkerStall]
    /// Worker processes that ended without the harness stopping them, with how they ended.
    public var workerExits: [String]
    /// Worker processes started in all.
    public var workerProcesses: Int
    /// Cancels, pauses and replacements of jobs, in the order they were applied.
    public var controls: [JobControlRecord]

    public init(
        writes: [SinkWrite], history: [HistorySighting], runs: [RunSighting], mustSucceed: Set<ResourceID>, cronJobs: Set<String>,
        wakes: [WorkerWake], stalls: [WorkerStall] = [], workerExits: [String] = [], workerProcesses: Int = 0,
        controls: [JobControlRecord] = []
    ) {
        self.controls = controls
        self.stalls = stalls
        self.workerExits = workerExits
        self.workerProcesses = workerProcesses
        self.writes = writes
        self.history = history
        self.runs = runs
        self.mustSucceed = mustSucceed
        self.cronJobs = cronJobs
        self.wakes = wakes
    }
}

/// One invariant's verdict: how many things it checked and what broke it (evidence, one line each).
public struct InvariantResult: Sendable, Hashable {
    public var invariant: Invariant
    public var checked: Int
    public var violations: [String]

    public var held: Bool { violations.isEmpty }
}

public enum Invariant: String, CaseIterable, Sendable, Hashable {
    case noJobLost = "no job lost"
    case noOverlap = "no overlapping runs of one job"
    case staleWritesRefused = "stale writes refused"
    case cronAtMostOnce = "each cron fire time ran at most once"
    case historyComplete = "history complete"
    case silentAfterWake = "a woken worker writes nothing under its old claims"
    case commandsEndBeforeTakeover = "a stalled or cut-off worker's commands end before its runs are taken over"
    case staleOnlyWhenFrozen = "only a frozen worker's commands write after their runs are taken over"
    case workersStayUp = "no worker exits by itself"
    case nothingStartsAfterCancel = "a cancelled job starts no run after the cancel"
    case nothingStartsWhilePaused = "a paused job starts no run until resumed"
    case replacedStartsNothing = "a replaced job's old incarnation starts no run after the replacement"
}

/// Judges a chaos run's evidence. Pure: the unit tests feed it hand-made records.
public enum InvariantChecker {
    public static func check(_ evidence: ChaosEvidence) -> [InvariantResult] {
        [
            noJobLost(evidence), noOverlap(evidence), staleWritesRefused(evidence), cronAtMostOnce(evidence),
            historyComplete(evidence), silentAfterWake(evidence), commandsEndBeforeTakeover(evidence), staleOnlyWhenFrozen(evidence),
            workersStayUp(evidence), nothingStartsAfterCancel(evidence), nothingStartsWhilePaused(evidence), replacedStartsNothing(evidence),
        ]
    }

    /// A worker stopped alone leaves its commands running, unfenced (they are processes of their
    /// own, and what they do outside fenced storage nothing refuses): each one's watchdog must end
    /// it before another worker begins its run again, at the sink. The stop came mostly before
    /// the worker's client could notice its silent network, where only the last contact bounds
    /// the session. A worker cut off the network runs on: its session guard (or their
    /// watchdogs) must stop its commands before the session's safe window ends, and so before
    /// any takeover (a command killed later may never write again, so the sink alone would not
    /// show the double run).
    static func commandsEndBeforeTakeover(_ evidence: ChaosEvidence) -> InvariantResult {
        var violations: [String] = []
        var checked = 0
        for stall in evidence.stalls {
            for run in stall.runs {
                checked += 1
                let takeover = evidence.writes.first {
                    $0.at > stall.stoppedAt && $0.accepted && $0.report.kind == .begin && $0.resource == run.resource && $0.token > run.token
                }
                guard let gone = run.goneAt else {
                    let begunAgain = takeover.map { ", begun again with token \($0.token) at \(seconds($0.at))" } ?? ""
                    violations.append(
                        "\(stall.worker), \(stall.how) at \(seconds(stall.stoppedAt)): the command of \(run.resource) (token \(run.token)) "
                            + "outlived the watch\(begunAgain)")
                    continue
                }
                if let takeover, takeover.at <= gone {
                    violations.append(
                        "\(stall.worker), \(stall.how) at \(seconds(stall.stoppedAt)): \(run.resource) was begun again with token \(takeover.token) "
                            + "at \(seconds(takeover.at)), its command (token \(run.token)) was gone only at \(seconds(gone))")
                }
            }
        }
        return InvariantResult(invariant: .commandsEndBeforeTakeover, checked: checked, violations: violations)
    }

    /// A write refused as stale is the trace of two commands of one job at work at once: the
    /// older one wrote after a newer token had begun. (The sink's accepted writes can never show
    /// it: fencing refuses exactly the writes that would interleave, so "no overlap" holds by
    /// construction.) Only a worker frozen with its commands (SIGSTOP past its TTL) cannot stop
    /// them in time, which fencing is for; everywhere else (a lost session, a cut network, a server
    /// failing over, a claim or an end write that should have been refused) the session guard and
    /// the watchdog must end a command before its run is taken over. So each refused write must
    /// come from a worker woken from such a stop, under a claim it held then, after the wake.
    static func staleOnlyWhenFrozen(_ evidence: ChaosEvidence) -> InvariantResult {
        let refused = evidence.writes.filter { !$0.accepted }
        var violations: [String] = []
        for write in refused
        where !evidence.wakes.contains(where: { $0.worker == write.report.worker && write.token <= $0.stopRevision && write.at >= $0.wokeAt }) {
            let newer = evidence.writes.first { $0.accepted && $0.resource == write.resource && $0.token > write.token && $0.at <= write.at }
            let taken = newer.map { "token \($0.token) (\($0.report.worker)) wrote from \(seconds($0.at))" } ?? "a newer token had written"
            violations.append(
                "\(write.resource) run \(write.report.run): \(write.report.kind.rawValue) of token \(write.token) from \(write.report.worker), "
                    + "not frozen, refused at \(seconds(write.at)); \(taken): two of its commands were at work at once")
        }
        return InvariantResult(invariant: .staleOnlyWhenFrozen, checked: refused.count, violations: violations)
    }

    /// A worker rides out every fault (lost contact, expiry, a server restarted): one that
    /// exits leaves its share of the work to the others, and with enough of them gone, runs
    /// wait for a takeover nobody makes.
    static func workersStayUp(_ evidence: ChaosEvidence) -> InvariantResult {
        InvariantResult(
            invariant: .workersStayUp, checked: max(evidence.workerProcesses, evidence.workerExits.count),
            violations: evidence.workerExits.map { "worker \($0) exited by itself; see its log" })
    }

    /// Every one-shot job and every shard has a success in history (a cancelled one a success or
    /// its cancellation; a replaced one a success of its newest incarnation: ``outstanding(_:controls:in:)``),
    /// and every cron job fired successfully at least once.
    static func noJobLost(_ evidence: ChaosEvidence) -> InvariantResult {
        var outcomes: [ResourceID: [HistoryEntry.Outcome]] = [:]
        for sighting in evidence.history {
            outcomes[ResourceID(job: sighting.entry.job, item: sighting.entry.item ?? 0), default: []].append(sighting.entry.outcome)
        }
        var violations: [String] = []
        for resource in outstanding(evidence.mustSucceed, controls: evidence.controls, in: evidence.history) {
            let seen = describe(outcomes[resource] ?? [])
            if let control = evidence.controls.last(where: { $0.job == resource.job && $0.action != .pause }) {
                let wanted = control.action == .cancel ? "no success, cancellation or ending after the cancel" : "no success of incarnation \(control.incarnation ?? "-")"
                violations.append("\(resource) (\(control.action.rawValue) at \(seconds(control.at))): \(wanted) in history (outcomes: \(seen))")
            } else {
                violations.append("\(resource): no success in history (outcomes: \(seen))")
            }
        }
        for job in evidence.cronJobs.sorted() where !evidence.history.contains(where: { $0.entry.job == job && $0.entry.outcome == .succeeded }) {
            violations.append("\(job): the cron job never succeeded")
        }
        return InvariantResult(invariant: .noJobLost, checked: evidence.mustSucceed.count + evidence.cronJobs.count, violations: violations)
    }

    /// At the sink, per job (or shard), the accepted writes of different tokens span intervals that
    /// never overlap.
    static func noOverlap(_ evidence: ChaosEvidence) -> InvariantResult {
        var spans: [ResourceID: [Int64: (first: Double, last: Double)]] = [:]
        for write in evidence.writes where write.accepted {
            let span = spans[write.resource]?[write.token] ?? (write.at, write.at)
            spans[write.resource, default: [:]][write.token] = (min(span.first, write.at), max(span.last, write.at))
        }
        var violations: [String] = []
        for (resource, tokens) in spans.sorted(by: { $0.key < $1.key }) {
            let ordered = tokens.sorted { $0.value.first < $1.value.first }
            var latest: (token: Int64, last: Double)?
            for (token, span) in ordered {
                if let previous = latest, span.first <= previous.last {
                    violations.append(
                        "\(resource): token \(previous.token) wrote until \(seconds(previous.last)), token \(token) already from \(seconds(span.first))")
                }
                if latest == nil || span.last > latest!.last { latest = (token, span.last) }
            }
        }
        return InvariantResult(invariant: .noOverlap, checked: spans.count, violations: violations)
    }

    /// Replaying the sink's decisions: every write older than the newest accepted token of its
    /// job was refused, and every other was accepted.
    static func staleWritesRefused(_ evidence: ChaosEvidence) -> InvariantResult {
        var newest: [ResourceID: Int64] = [:]
        var violations: [String] = []
        for write in evidence.writes {
            let expected = FencingLedger.accepts(write.token, newest: newest[write.resource])
            if write.accepted != expected {
                violations.append(
                    "\(write.resource): \(write.report.kind.rawValue) with token \(write.token) at \(seconds(write.at)) was "
                        + "\(write.accepted ? "accepted" : "refused") while the newest token was \(newest[write.resource].map(String.init) ?? "none")")
            }
            if write.accepted { newest[write.resource] = max(newest[write.resource] ?? write.token, write.token) }
        }
        return InvariantResult(invariant: .staleWritesRefused, checked: evidence.writes.count, violations: violations)
    }

    /// Per cron fire time (its run id): at most one token completed at the sink, at most one
    /// success in history.
    static func cronAtMostOnce(_ evidence: ChaosEvidence) -> InvariantResult {
        var completed: [String: Set<Int64>] = [:]
        for write in evidence.writes where write.accepted && write.report.kind == .end && evidence.cronJobs.contains(write.resource.job) {
            completed["\(write.resource.job)/\(write.report.run)", default: []].insert(write.token)
        }
        var succeeded: [String: [Int64?]] = [:]
        for sighting in evidence.history where sighting.entry.outcome == .succeeded && evidence.cronJobs.contains(sighting.entry.job) {
            succeeded["\(sighting.entry.job)/\(sighting.entry.run ?? "?")", default: []].append(sighting.entry.token)
        }
        var violations: [String] = []
        for (fire, tokens) in completed.sorted(by: { $0.key < $1.key }) where tokens.count > 1 {
            violations.append("\(fire): completed at the sink by tokens \(tokens.sorted())")
        }
        for (fire, tokens) in succeeded.sorted(by: { $0.key < $1.key }) where tokens.count > 1 {
            violations.append("\(fire): \(tokens.count) successes in history (tokens \(tokens.map { $0.map(String.init) ?? "-" }))")
        }
        return InvariantResult(invariant: .cronAtMostOnce, checked: Set(completed.keys).union(succeeded.keys).count, violations: violations)
    }

    /// Every run the sink saw complete (an accepted `end`) has a history entry of the same run and
    /// token, whatever its outcome (a worker that died after its command finished is recorded as
    /// abandoned); every success in history completed at the sink.
    static func historyComplete(_ evidence: ChaosEvidence) -> InvariantResult {
        struct Attempt: Hashable {
            var job: String
            var run: String
            var token: Int64
        }
        let recorded = Set(evidence.history.compactMap { sighting in
            sighting.entry.token.map { Attempt(job: sighting.entry.job, run: sighting.entry.run ?? "", token: $0) }
        })
        let ends = evidence.writes.filter { $0.accepted && $0.report.kind == .end }
        let completed = Set(ends.map { Attempt(job: $0.resource.job, run: $0.report.run, token: $0.token) })
        var violations: [String] = []
        for attempt in completed.sorted(by: { ($0.job, $0.run, $0.token) < ($1.job, $1.run, $1.token) }) where !recorded.contains(attempt) {
            violations.append("\(attempt.job) run \(attempt.run) token \(attempt.token): completed at the sink, no history entry")
        }
        let successes = evidence.history.filter { $0.entry.outcome == .succeeded }
        for sighting in successes.sorted(by: { $0.key < $1.key }) {
            let entry = sighting.entry
            guard let token = entry.token, completed.contains(Attempt(job: entry.job, run: entry.run ?? "", token: token)) else {
                violations.append("\(sighting.key): success of \(entry.job) run \(entry.run ?? "-") token \(entry.token.map(String.init) ?? "-") never completed at the sink")
                continue
            }
        }
        return InvariantResult(invariant: .historyComplete, checked: completed.count + successes.count, violations: violations)
    }

    /// A worker stopped past its TTL and woken writes nothing under the claims it held: no sink
    /// write accepted after the wake with one of their tokens, no history entry of theirs created
    /// after the wake (other than `abandoned`, which whoever took over records), no run record
    /// rewritten after the wake as still running on it in the same attempt.
    static func silentAfterWake(_ evidence: ChaosEvidence) -> InvariantResult {
        var violations: [String] = []
        for wake in evidence.wakes {
            // A run cancelled (or replaced) while its worker was stopped is settled without running
            // again: until a newer token is written, nothing fences the command's late write,
            // which fenced storage would take too. That is not a write under a claim it lost.
            let settledBeforeWake = Set(
                evidence.controls.filter { $0.action != .pause && $0.acknowledgedRevision <= wake.wakeRevision }.map(\.job))
            for write in evidence.writes
            where write.accepted && write.report.worker == wake.worker && write.token <= wake.stopRevision && write.at > wake.wokeAt
                && !(settledBeforeWake.contains(write.resource.job)
                    && !evidence.writes.contains { $0.accepted && $0.resource == write.resource && $0.token > write.token && $0.at <= write.at })
            {
                violations.append(
                    "\(wake.worker) woke at \(seconds(wake.wokeAt)); the sink accepted its \(write.report.kind.rawValue) of \(write.resource) "
                        + "with old token \(write.token) at \(seconds(write.at))")
            }
            for sighting in evidence.history
            where sighting.entry.worker == wake.worker && sighting.entry.outcome != .abandoned && sighting.createRevision > wake.wakeRevision
                && (sighting.entry.token ?? .max) <= wake.stopRevision
            {
                violations.append(
                    "\(wake.worker) woke at revision \(wake.wakeRevision); history \(sighting.key) (\(sighting.entry.outcome.rawValue), "
                        + "token \(sighting.entry.token ?? 0)) was created at revision \(sighting.createRevision)")
            }
            var held: [String: RunSighting] = [:]
            for sighting in evidence.runs where sighting.modRevision <= wake.stopRevision {
                if let known = held[sighting.key], known.modRevision > sighting.modRevision { continue }
                held[sighting.key] = sighting
            }
            for sighting in evidence.runs where sighting.modRevision > wake.wakeRevision {
                guard let before = held[sighting.key], before.record.worker == wake.worker, before.record.status == .running,
                    sighting.record.worker == wake.worker, sighting.record.status == .running, sighting.record.attempt == before.record.attempt
                else { continue }
                violations.append(
                    "\(wake.worker) woke at revision \(wake.wakeRevision); run \(sighting.key) attempt \(sighting.record.attempt) "
                        + "was rewritten as running on it at revision \(sighting.modRevision)")
            }
        }
        return InvariantResult(invariant: .silentAfterWake, checked: evidence.wakes.count, violations: violations)
    }

    static func describe(_ outcomes: [HistoryEntry.Outcome]) -> String {
        guard !outcomes.isEmpty else { return "none" }
        let counts = Dictionary(grouping: outcomes, by: \.rawValue).mapValues(\.count)
        return counts.sorted { $0.key < $1.key }.map { "\($0.key)×\($0.value)" }.joined(separator: ", ")
    }

    static func seconds(_ value: Double) -> String { String(format: "%.3fs", value) }
}
