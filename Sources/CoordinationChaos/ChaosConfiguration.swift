public import Foundation

/// The store a chaos run targets.
public enum ChaosBackend: String, CaseIterable, Sendable, Hashable {
    case zookeeper
    case etcd

    /// The backends `coord-chaos --backend` asks for: one by its name, every one for `both`, in
    /// the order they run; `nil` for any other text.
    public static func requested(by option: String) -> [ChaosBackend]? {
        option == "both" ? allCases : ChaosBackend(rawValue: option).map { [$0] }
    }
}

/// Everything one `coord-chaos` invocation decides before it starts: which stores, how long, which seed.
public struct ChaosConfiguration: Sendable {
    public var backends: [ChaosBackend]
    public var seed: UInt64
    /// How long faults are injected, per backend (the workload runs meanwhile).
    public var faultPhase: Duration
    /// How long the workload may take to finish once the faults stop and the cluster healed; past
    /// it the run fails (a job that never finishes is a lost job).
    public var drainLimit: Duration
    /// The session TTL of every worker: stops and relay cuts last longer than this.
    public var sessionTTL: Duration = .seconds(2)
    public var workers = 4
    public var workerCapacity = 2
    /// The workers' `--keep-finished`: short, so that finished one-shot jobs are removed while
    /// faults go on (the harness's observer has recorded their history long before).
    public var finishedJobRetention: Duration = .seconds(30)
    /// ZooKeeper uses `basePort`…+22, etcd `basePort`+30…+35: clear of the dev servers (2181,
    /// 2379-2384), the tests' ZooKeeper (22000-22999) and etcd (23000-23999) ranges.
    public var basePort = 24100
    /// The `coord` binary the workers run.
    public var coordBinary: URL
    /// Keep the run's folder (server logs, worker logs, the sink's log) even when every invariant held.
    public var keepFiles = false

    public init(backends: [ChaosBackend], seed: UInt64, faultPhase: Duration, drainLimit: Duration, coordBinary: URL) {
        self.backends = backends
        self.seed = seed
        self.faultPhase = faultPhase
        self.drainLimit = drainLimit
        self.coordBinary = coordBinary
    }

    /// The CI run: both backends within 5 minutes on two cores.
    public static func quick(backends: [ChaosBackend], seed: UInt64, coordBinary: URL) -> ChaosConfiguration {
        ChaosConfiguration(backends: backends, seed: seed, faultPhase: .seconds(80), drainLimit: .seconds(45), coordBinary: coordBinary)
    }

    /// What `coord-chaos` runs for its options: the quick run, or a soak of `soak` when given, of
    /// the backends `backend` names (see ``ChaosBackend/requested(by:)``) with `seed`; `nil` when
    /// `backend` names none.
    public static func requested(backend: String, seed: UInt64, soak: Duration?, coordBinary: URL) -> ChaosConfiguration? {
        guard let backends = ChaosBackend.requested(by: backend) else { return nil }
        if let soak { return .soak(soak, backends: backends, seed: seed, coordBinary: coordBinary) }
        return .quick(backends: backends, seed: seed, coordBinary: coordBinary)
    }

    /// A long run: `duration` of faults per backend.
    public static func soak(_ duration: Duration, backends: [ChaosBackend], seed: UInt64, coordBinary: URL) -> ChaosConfiguration {
        ChaosConfiguration(backends: backends, seed: seed, faultPhase: duration, drainLimit: .seconds(120), coordBinary: coordBinary)
    }
}
