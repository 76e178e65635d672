/// The faults a chaos run injects.
public enum FaultKind: String, CaseIterable, Sendable, Hashable {
    /// SIGKILL a worker (and its running commands), start a replacement.
    case workerKill = "SIGKILL worker"
    /// SIGSTOP a worker and its commands for longer than the session TTL, then SIGCONT.
    case workerStop = "SIGSTOP worker > TTL"
    /// Make a worker's connections go silent (its client notices nothing yet), then, mostly
    /// before its client can notice, SIGSTOP the worker process alone for longer than the TTL: its
    /// commands run on, and their watchdogs must end them before their runs are taken over.
    case workerStall = "SIGSTOP worker alone, network silent"
    /// Cut a worker's network (its relays) for longer than the session TTL, then heal: its session expires.
    case sessionExpiry = "session expiry (relay cut > TTL)"
    /// SIGKILL a server that is not the leader, restart it.
    case serverKill = "SIGKILL follower, restart"
    /// SIGKILL the leader, restart it.
    case leaderKill = "SIGKILL leader, restart"
    /// SIGTERM a server (the leader or not), as a rolling restart does, and start it again. Requests
    /// in flight are answered with errors while it shuts down, some of them for writes it applied.
    case serverTerminate = "SIGTERM server, restart"
    /// SIGSTOP a server (the leader or not), then SIGCONT.
    case serverStop = "SIGSTOP server, SIGCONT"
    /// Compact the store's history at its current revision while watches run (etcd only).
    case compaction = "compaction at current revision"

    /// The kinds a backend takes.
    public static func kinds(for backend: ChaosBackend) -> [FaultKind] {
        backend == .etcd ? allCases : allCases.filter { $0 != .compaction }
    }
}

/// One planned fault: when (after the fault phase started), what, on which worker slot or server,
/// and how long it lasts (a stop, a cut, a server's downtime).
public struct PlannedFault: Sendable, Hashable {
    public var at: Duration
    public var kind: FaultKind
    /// A worker slot for worker faults, a member index for server faults (a leader is found when it strikes).
    public var target: Int
    public var hold: Duration
    /// How long before the fault proper its preparation starts (a stall's silent network).
    public var lead: Duration = .zero
}

/// A seeded fault schedule: every kind the backend takes once (a worker stop twice: it is the
/// fault fencing is for), in a random order, then random kinds until the phase is full; one fault at a time, with a pause after each for the cluster
/// to recover, so that each fault's effect can be told apart. The first round is planned whole
/// even where it runs past a short phase: a run that never tried a kind tested nothing of it.
public enum FaultSchedule {
    public static func plan(
        backend: ChaosBackend, phase: Duration, ttl: Duration, workers: Int, members: Int, generator: inout SeededGenerator
    ) -> [PlannedFault] {
        let kinds = FaultKind.kinds(for: backend)
        var order = (kinds + [.workerStop]).shuffled(using: &generator)
        var faults: [PlannedFault] = []
        var at = Duration.seconds(3)
        while at < phase || !order.isEmpty {
            if order.isEmpty { order = [kinds.randomElement(using: &generator)!] }
            let kind = order.removeFirst()
            let hold = holdTime(kind, ttl: ttl, generator: &generator)
            let target = kind.strikesWorker ? Int.random(in: 0..<workers, using: &generator) : Int.random(in: 0..<members, using: &generator)
            // A stall's stop lands between a tenth and six tenths of a TTL into the silence:
            // mostly before the client notices it (ZooKeeper's after two thirds of a TTL without
            // an answer, etcd's when a keep-alive is a third of a TTL overdue), where only the
            // last contact tells, the latest just before, where the session has least left.
            let lead = kind == .workerStall ? generator.duration(in: (ttl / 10)...(ttl * 6 / 10)) : .zero
            faults.append(PlannedFault(at: at, kind: kind, target: target, hold: hold, lead: lead))
            // The fault itself, a server's restart (a JVM takes seconds), then a pause to recover.
            at += lead + hold + (kind.restartsServer ? .seconds(3) : .zero) + generator.duration(in: .seconds(2)...(.seconds(4)))
        }
        return faults
    }

    static func holdTime(_ kind: FaultKind, ttl: Duration, generator: inout SeededGenerator) -> Duration {
        switch kind {
        case .workerKill: generator.duration(in: .milliseconds(300)...(.milliseconds(1500)))
        // Past the TTL with room for the takeover, so that the stopped worker wakes to find its runs taken.
        case .workerStop, .workerStall: ttl + generator.duration(in: .milliseconds(2000)...(.milliseconds(3000)))
        case .sessionExpiry: ttl + generator.duration(in: .milliseconds(1500)...(.milliseconds(2500)))
        case .serverKill, .leaderKill, .serverTerminate: generator.duration(in: .milliseconds(500)...(.milliseconds(2500)))
        case .serverStop: generator.duration(in: .milliseconds(1000)...(.milliseconds(3000)))
        case .compaction: .zero
        }
    }
}

extension FaultKind {
    var strikesWorker: Bool { [.workerKill, .workerStop, .workerStall, .sessionExpiry].contains(self) }
    var restartsServer: Bool { [.serverKill, .leaderKill, .serverTerminate].contains(self) }
}
