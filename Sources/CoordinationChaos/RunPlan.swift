/// Everything a backend's chaos run decides from the seed before the faults start: the workload
/// (its jobs and the controls of some of them) and the fault schedule.
///
/// ``make(for:configuration:members:command:)`` is the one place the seed enters a run, so that
/// `--seed N` replays it: the same seed and backend give the same plan on every machine. Nothing
/// else in a run draws what it plans from any other source of randomness.
struct RunPlan: Sendable {
    var workload: Workload
    var faults: [PlannedFault]

    /// The plan of `backend`'s run under `configuration`, drawn from `configuration.seed` alone.
    /// - Parameters:
    ///   - members: how many members the cluster has (fault targets are drawn among them).
    ///   - command: a job's shell command from its work time and whether its first attempt fails.
    static func make(
        for backend: ChaosBackend, configuration: ChaosConfiguration, members: Int, command: (Duration, Bool) -> String
    ) throws -> RunPlan {
        var generator = SeededGenerator(seed: seed(of: backend, runSeed: configuration.seed))
        // The workload is drawn before the faults: seeds printed by earlier runs replay as they did.
        let workload = try Workload.plan(length: configuration.faultPhase, generator: &generator, command: command)
        let faults = FaultSchedule.plan(
            backend: backend, phase: configuration.faultPhase, ttl: configuration.sessionTTL, workers: configuration.workers,
            members: members, generator: &generator)
        return RunPlan(workload: workload, faults: faults)
    }

    /// The generator's seed for `backend`: each backend gets a plan of its own from one run seed.
    static func seed(of backend: ChaosBackend, runSeed: UInt64) -> UInt64 {
        runSeed &+ (backend == .etcd ? 0x5DEE_CE66 : 0)
    }
}
