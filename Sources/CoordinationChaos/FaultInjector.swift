import CoordinationLocalServers
import Foundation
import Logging

/// A fault as it happened: what, on whom, from when until when (seconds since the run started).
public struct FaultRecord: Sendable, Hashable {
    public var kind: FaultKind
    public var target: String
    public var at: Double
    public var until: Double
    public var note: String?

    public init(kind: FaultKind, target: String, at: Double, until: Double, note: String? = nil) {
        self.kind = kind
        self.target = target
        self.at = at
        self.until = until
        self.note = note
    }
}

/// A worker that was stopped past its session TTL and continued: the store revisions just after
/// the stop and just before the wake bound what it may still write (nothing under a claim it held
/// when it stopped, whose token is at most `stopRevision`).
public struct WorkerWake: Sendable, Hashable {
    public var worker: String
    public var stopRevision: Int64
    public var wakeRevision: Int64
    /// When SIGCONT was sent (seconds since the run started).
    public var wokeAt: Double

    public init(worker: String, stopRevision: Int64, wakeRevision: Int64, wokeAt: Double) {
        self.worker = worker
        self.stopRevision = stopRevision
        self.wakeRevision = wakeRevision
        self.wokeAt = wokeAt
    }
}

/// A worker stopped alone (``FaultKind/workerStall``) or cut off the network
/// (``FaultKind/sessionExpiry``), its commands left running: when (seconds since the run
/// started), and the runs whose commands were running then. Either way the commands must be
/// gone before their runs are taken over: a stalled worker's by their watchdogs, a cut-off
/// worker's by its session guard or their watchdogs, before its session's safe window ends.
public struct WorkerStall: Sendable, Hashable {
    public var worker: String
    public var stoppedAt: Double
    public var runs: [StalledRun]
    /// What befell the worker, as the evidence says it: "stopped" or "cut off".
    public var how: String

    public init(worker: String, stoppedAt: Double, runs: [StalledRun], how: String = "stopped") {
        self.worker = worker
        self.stoppedAt = stoppedAt
        self.runs = runs
        self.how = how
    }
}

/// A run whose command was running when its worker was stopped alone: its job (or shard), its
/// token, its processes (the supervisor, the watchdog, the command and what that started) and
/// when they were all seen gone, `nil` when one outlived the watch.
public struct StalledRun: Sendable, Hashable {
    public var resource: ResourceID
    public var token: Int64
    public var processes: [Int32]
    public var goneAt: Double?

    public init(resource: ResourceID, token: Int64, processes: [Int32], goneAt: Double? = nil) {
        self.resource = resource
        self.token = token
        self.processes = processes
        self.goneAt = goneAt
    }

    /// The runs of a worker's `processes`, told apart by the variables the shell handler gives
    /// every process of a run (``ProcessTable/environment(of:)``); processes without are not a run's.
    public static func runs(of processes: [Int32]) -> [StalledRun] {
        var runs: [ResourceID: StalledRun] = [:]
        for pid in processes {
            let variables = ProcessTable.environment(of: pid)
            guard let job = variables["COORD_JOB_ID"], let token = variables["COORD_FENCING_TOKEN"].flatMap(Int64.init) else { continue }
            let resource = ResourceID(job: job, item: variables["COORD_SHARD"].flatMap(Int.init) ?? 0)
            runs[resource, default: StalledRun(resource: resource, token: token, processes: [])].processes.append(pid)
        }
        return runs.values.sorted { $0.resource < $1.resource }
    }
}

/// Carries out a ``FaultSchedule`` against a cluster and its workers, one fault at a time, and
/// records what it did.
final class FaultInjector: @unchecked Sendable {
    // Used by the one fault loop only.
    private(set) var records: [FaultRecord] = []
    private(set) var wakes: [WorkerWake] = []
    private(set) var stalls: [WorkerStall] = []
    /// Whether the next worker stop holding a single run cancels it (else it is left for a takeover).
    private var cancelsLoneHeldRun = false
    private let cluster: any ChaosCluster
    private let workers: [ChaosWorker]
    private let observer: StoreObserver
    private let sink: FencingSink
    private let started: ContinuousClock.Instant
    private let logger: Logger
    private let controls: JobControls?
    private let untouchable: Set<String>

    /// The `sink` tells which workers run a command now (a worker fault strikes one of them when
    /// the planned one is idle, so that there is a run to take over) and when it was taken over.
    /// With `controls`, a worker kill also cancels one job the worker runs (none of
    /// `untouchable`) the moment its session ends, and so does a worker stop, except on every
    /// other stop whose worker runs only one job: its run is then abandoned with a cancel
    /// request, which a takeover must settle as cancelled, and which a claim decided on a view
    /// from before the request must not take.
    init(
        cluster: any ChaosCluster, workers: [ChaosWorker], observer: StoreObserver, sink: FencingSink, started: ContinuousClock.Instant,
        logger: Logger, controls: JobControls? = nil, untouchable: Set<String> = []
    ) {
        self.controls = controls
        self.untouchable = untouchable
        self.cluster = cluster
        self.sink = sink
        self.workers = workers
        self.observer = observer
        self.started = started
        self.logger = logger
    }

    private var now: Double { (ContinuousClock.now - started) / .seconds(1) }

    /// Runs `plan` from `phaseStart` on; faults planned past `phaseStart + length` are left out,
    /// but for the first of each kind, which is injected however late.
    func run(_ plan: [PlannedFault], from phaseStart: ContinuousClock.Instant, length: Duration) async throws {
        let end = phaseStart + length
        for fault in plan {
            let when = phaseStart + fault.at
            // Past the phase's end only a kind not yet injected goes on: faults that overran
            // their time (a worker stop waits up to 30 s for takeovers) left a quick run's last
            // kind out, and its report said PASSED of a fault it never tried.
            let firstOfItsKind = !records.contains { $0.kind == fault.kind }
            guard firstOfItsKind || (when < end && ContinuousClock.now < end) else { continue }
            if when > ContinuousClock.now { try await Task.sleep(until: when) }
            try await inject(fault)
        }
    }

    func inject(_ fault: PlannedFault) async throws {
        var at = now
        var target = ""
        var note: String?
        switch fault.kind {
        case .workerKill:
            let worker = victim(planned: fault.target)
            let killed = worker.id
            target = killed
            let held = sink.openRuns.filter { $0.value.worker == killed }.keys
            await worker.kill()
            // Its session ends a TTL or so after the kill, while its replacement starts.
            async let cancelled = cancelOne(of: held, whenGone: killed, within: .seconds(10))
            try await Task.sleep(for: fault.hold)
            try worker.start()
            note = "replaced by \(worker.id)"
            if let cancelled = try await cancelled { note! += "; cancelled \(cancelled) as its session ended" }
        case .workerStop:
            let worker = victim(planned: fault.target)
            target = worker.id
            let stoppedAt = ContinuousClock.now
            worker.suspend()
            do {
                // Anything the worker sent before the stop has landed by now.
                try await Task.sleep(for: .milliseconds(200))
                let stopRevision = try await observer.revisionNow(within: fault.hold)
                var held = sink.openRuns.filter { $0.value.worker == worker.id }
                // A stopped worker mostly holds one run: cancelling it every time left no run to
                // take over, and so no late write for fencing to refuse (a quick run counted
                // none). A lone run is cancelled on every other such stop, taken over otherwise.
                var cancels = held.count > 1
                if held.count == 1 {
                    cancels = cancelsLoneHeldRun
                    cancelsLoneHeldRun.toggle()
                }
                let cancelled = cancels ? try await cancelOne(of: held.keys, whenGone: worker.id, within: fault.hold) : nil
                if let cancelled { held = held.filter { $0.key.job != cancelled } }
                try await Task.sleep(until: stoppedAt + fault.hold)
                // Past the TTL, and until every run it held was taken over (bounded): it then
                // wakes among newer tokens, which is the case fencing is for. A cancelled run is
                // settled instead: waited for until it is gone, so that it was settled by a takeover.
                let deadline = ContinuousClock.now + .seconds(30)
                // A run of a job the workload cancelled or replaced meanwhile is settled too.
                var untaken: [ResourceID] { held.filter { !sink.hasNewer(than: $0.value.token, on: $0.key) && !settled($0.key.job) }.keys.sorted() }
                while ContinuousClock.now < deadline {
                    let unsettled = await stillActive(cancelled)
                    guard !untaken.isEmpty || unsettled else { break }
                    try await Task.sleep(for: .milliseconds(100))
                }
                var pending = untaken.map(\.description)
                if await stillActive(cancelled), let cancelled { pending.append("cancelled \(cancelled)") }
                if !pending.isEmpty { note = "woke before \(pending.joined(separator: ", ")) was taken over" }
                if let cancelled { note = (note.map { $0 + "; " } ?? "") + "cancelled \(cancelled) while stopped" }
                let wakeRevision = try await observer.revisionNow(within: .seconds(30))
                wakes.append(WorkerWake(worker: worker.id, stopRevision: stopRevision, wakeRevision: wakeRevision, wokeAt: now))
            } catch {
                worker.resume()
                throw error
            }
            worker.resume()
        case .workerStall:
            let worker = try await longBusyVictim(planned: fault.target)
            target = worker.id
            worker.silenceConnections()
            // The fault begins with the silence, not with the wait for a victim.
            at = now
            try await Task.sleep(for: fault.lead)
            let stoppedAt = now
            let stopInstant = ContinuousClock.now
            var runs = StalledRun.runs(of: worker.stallAlone())
            do {
                try await watchCommands(&runs, from: stopInstant, hold: fault.hold)
                stalls.append(WorkerStall(worker: worker.id, stoppedAt: stoppedAt, runs: runs))
                let ends = runs.map { run in run.goneAt.map { String(format: "%.1fs", $0 - stoppedAt) } ?? "never" }
                note = "stopped \(String(format: "%.1f", stoppedAt - at))s into the silence with \(runs.count) command(s) running, "
                    + "gone after \(ends.isEmpty ? "-" : ends.joined(separator: ", "))"
            } catch {
                worker.resume()
                throw error
            }
            worker.resume()
        case .sessionExpiry:
            // A long job's command outlives the cut's safe window: only the session guard (or the
            // command's watchdog) stops it in time; a short one ends by itself, and a guard that
            // never fires goes unseen.
            let worker = try await longBusyVictim(planned: fault.target)
            target = worker.id
            let cutAt = now
            let cutInstant = ContinuousClock.now
            var runs = StalledRun.runs(of: worker.commandProcesses())
            worker.cut()
            do {
                // Healed after the hold, the worker hears that its session expired and stops its
                // commands then, should its session guard not have stopped them in time: watched
                // on past the hold, until their runs are taken over.
                try await watchCommands(&runs, from: cutInstant, hold: fault.hold, untilGone: true) { worker.heal() }
            } catch {
                worker.heal()
                throw error
            }
            stalls.append(WorkerStall(worker: worker.id, stoppedAt: cutAt, runs: runs, how: "cut off"))
            let ends = runs.map { run in run.goneAt.map { String(format: "%.1fs", $0 - cutAt) } ?? "never" }
            note = "\(runs.count) command(s) running at the cut, gone after \(ends.isEmpty ? "-" : ends.joined(separator: ", "))"
        case .serverKill, .leaderKill:
            let leader = await findLeader()
            let member: Int
            if fault.kind == .leaderKill {
                guard let leader else { throw ChaosFailure("\(cluster.backend): no leader to kill") }
                member = leader
            } else {
                member = fault.target == leader ? (fault.target + 1) % cluster.memberAddresses.count : fault.target
            }
            target = "member \(member)" + (member == leader ? " (leader)" : "")
            await cluster.kill(member)
            try await Task.sleep(for: fault.hold)
            try await cluster.restart(member)
            note = "new leader: " + ((await cluster.leader()).map { "member \($0)" } ?? "none yet")
        case .serverTerminate:
            let leader = await cluster.leader()
            target = "member \(fault.target)" + (fault.target == leader ? " (leader)" : "")
            await cluster.terminate(fault.target)
            try await Task.sleep(for: fault.hold)
            try await cluster.restart(fault.target)
            note = "new leader: " + ((await cluster.leader()).map { "member \($0)" } ?? "none yet")
        case .serverStop:
            let leader = await cluster.leader()
            target = "member \(fault.target)" + (fault.target == leader ? " (leader)" : "")
            guard cluster.signal(fault.target, SIGSTOP) else { throw ChaosFailure("\(cluster.backend): member \(fault.target) is not running") }
            do { try await Task.sleep(for: fault.hold) } catch {
                _ = cluster.signal(fault.target, SIGCONT)
                throw error
            }
            _ = cluster.signal(fault.target, SIGCONT)
            try await cluster.waitUntilServing(within: .seconds(60))
        case .compaction:
            target = "cluster"
            if let revision = try await cluster.compactNow() { note = "at revision \(revision)" }
        }
        let record = FaultRecord(kind: fault.kind, target: target, at: at, until: now, note: note)
        records.append(record)
        logger.info(
            "chaos: \(cluster.backend) fault \(fault.kind.rawValue) on \(target) at \(String(format: "%.1f", at))s for \(String(format: "%.1f", record.until - at))s\(note.map { ", \($0)" } ?? "")")
    }

    /// Looks at the processes of `runs` every 20 ms, noting when each run's are all gone, past
    /// `hold` after `start` (calling `afterHold` once it has passed) and until each run was taken
    /// over, or 30 s more: their ends, against the takeovers, are what a stall or a cut is about.
    /// With `untilGone`, it also ends once every command is gone (no later takeover can beat them).
    private func watchCommands(
        _ runs: inout [StalledRun], from start: ContinuousClock.Instant, hold: Duration, untilGone: Bool = false,
        afterHold: () -> Void = {}
    ) async throws {
        let deadline = start + hold + .seconds(30)
        var holdPassed = false
        while true {
            for index in runs.indices where runs[index].goneAt == nil && !runs[index].processes.contains(where: ProcessTable.isAlive) {
                runs[index].goneAt = now
            }
            // A cron fire's run abandoned is not retried: nothing takes it over.
            let takenOver = runs.allSatisfy { $0.resource.job == Workload.cronJob || sink.hasNewer(than: $0.token, on: $0.resource) }
            let instant = ContinuousClock.now
            if instant >= start + hold && !holdPassed {
                holdPassed = true
                afterHold()
            }
            let allGone = untilGone && runs.allSatisfy { $0.goneAt != nil }
            if holdPassed && (takenOver || allGone || instant >= deadline) { break }
            try await Task.sleep(for: .milliseconds(20))
        }
    }

    /// Cancels the first (by id) job among `resources` that nobody controls yet, the moment the
    /// stopped `worker`'s member key is gone (its session ended, its claims with it: waited for
    /// at most `limit`); returns its id. Then the other workers, seeing the run abandoned, race
    /// the cancel request to take it over: a claim decided on the view before the request must be
    /// refused by the check of the run's version, or the cancelled run runs again.
    private func cancelOne(of resources: Dictionary<ResourceID, SinkReport>.Keys, whenGone worker: String, within limit: Duration) async throws
        -> String?
    {
        guard let controls,
            let job = resources.map(\.job).filter({ !untouchable.contains($0) && !controls.touched($0) }).sorted().first
        else { return nil }
        await controls.waitUntilGone(worker: worker, within: limit)
        try await controls.cancel(job)
        return job
    }

    /// Whether the workload's controls cancelled or replaced `job`: its run is settled, not taken over.
    private func settled(_ job: String) -> Bool {
        controls?.records.contains { $0.job == job && $0.action != .pause } ?? false
    }

    /// Whether the cancelled `job` still has runs (a store that does not answer counts as yes).
    private func stillActive(_ job: String?) async -> Bool {
        guard let job, let controls else { return false }
        return await controls.hasActiveRuns(job)
    }

    /// The planned worker slot if its worker runs a command, else the next busy one, else the planned one.
    private func victim(planned: Int) -> ChaosWorker {
        let busy = Set(sink.openRuns.values.map(\.worker))
        return rotation(from: planned).first { busy.contains($0.id) } ?? workers[planned]
    }

    /// Every worker, the planned slot's first.
    private func rotation(from planned: Int) -> [ChaosWorker] {
        workers.indices.map { workers[(planned + $0) % workers.count] }
    }

    /// A worker running a long job begun in the last 3 s (2 s or more of work ahead), waiting up
    /// to 3 s for one, else one running a long job at all: a stall or a cut is about commands that
    /// outlive the session, which only the watchdogs (or a cut-off worker's session guard) end in time.
    /// Otherwise as ``victim(planned:)``.
    private func longBusyVictim(planned: Int) async throws -> ChaosWorker {
        func running(since: Double) -> ChaosWorker? {
            let running = sink.workersRunning(jobsPrefixed: Workload.longJobPrefix, begunSince: since)
            return rotation(from: planned).first { running.contains($0.id) }
        }
        let deadline = ContinuousClock.now + .seconds(3)
        while ContinuousClock.now < deadline {
            if let worker = running(since: now - 3) { return worker }
            try await Task.sleep(for: .milliseconds(20))
        }
        return running(since: 0) ?? victim(planned: planned)
    }

    /// The leader, asking again for a few seconds while an election may still run.
    private func findLeader() async -> Int? {
        let deadline = ContinuousClock.now + .seconds(10)
        while ContinuousClock.now < deadline {
            if let leader = await cluster.leader() { return leader }
            try? await Task.sleep(for: .milliseconds(200))  // an election is a few ticks
        }
        return nil
    }
}
